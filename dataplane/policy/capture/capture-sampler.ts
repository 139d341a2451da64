import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';

/**
 * Which requests a DataPolicy with a sampleRate below 1 records: a keyed hash (HMAC-SHA256) of the
 * request id, under a key no caller knows. Not a plain hash of the id: the id is the caller's own
 * x-request-id when it sends one, and against a public hash a caller picks ids that are never
 * sampled (every second try at 0.5) and so opts out of a policy that does not let it
 * (`allowOptOut: false`). One key gives one answer per id, so a retry with the same id is sampled
 * alike, on every data plane that shares the key.
 */
export class CaptureSampler {
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    this.key = createSecretKey(key);
  }

  /** The request with this id is recorded at `rate` (uniform over ids). */
  sampled(requestId: string, rate: number): boolean {
    if (rate >= 1) return true;
    if (rate <= 0) return false;
    return createHmac('sha256', this.key).update(requestId).digest().readUInt32BE(0) / 0x1_0000_0000 < rate;
  }
}

const LABEL = 'tollgate.dev/capture-sampling/v1';

/**
 * The sampler of a data plane: its key derived from a secret every data plane of the installation
 * holds and no caller does (the admin token the operator pushes snapshots with), so that replicas
 * agree; without one (a data plane on a snapshot file, `tollgate dev` without an admin port), a key
 * of this process's own.
 */
export function captureSampler(sharedSecret?: string): CaptureSampler {
  return new CaptureSampler(sharedSecret === undefined || sharedSecret === '' ? randomBytes(32) : createHmac('sha256', sharedSecret).update(LABEL).digest());
}
