import { NamespaceShares } from './namespace-shares.js';

/** What every destination queue of a process may hold together by default (each one also at most its own 64 MiB). */
export const DEFAULT_MAX_TOTAL_QUEUE_BYTES = 128 * 1024 * 1024;

/**
 * What a set of capture buffers holds together, and each namespace's share of it (half at most). The
 * destination queues of one process share one (bytes; a batch counts until its write is over): each
 * queue is bounded on its own, but a policy may name eight destinations and a tenant may write many
 * policies, so without a bound over all of them destinations that never answer would each fill their
 * 64 MiB and one tenant could take the data plane's memory from everyone (its pod's limit is 1 GiB by
 * default). The streams being recorded share another (characters, STREAM_TEXT_BUDGET).
 */
export class CaptureMemory {
  private used = 0;
  private readonly shares: NamespaceShares;

  constructor(readonly maxBytes: number) {
    this.shares = new NamespaceShares(Number.MAX_SAFE_INTEGER, maxBytes);
  }

  /** Room for `bytes` more. */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.maxBytes;
  }

  /** Room for `bytes` more in the share of `namespace`. */
  admitsShare(namespace: string, bytes: number): boolean {
    return this.shares.admits(namespace, 0, bytes);
  }

  /** Up to `bytes` more of `namespace`: how many fit, both in all and in its share. */
  room(namespace: string, bytes: number): number {
    return Math.max(0, Math.min(bytes, this.maxBytes - this.used, this.shares.bytesLeft(namespace)));
  }

  /** `records` more records of `namespace` (0: more bytes of one already counted), `bytes` together. */
  add(namespace: string, records: number, bytes: number): void {
    this.used += bytes;
    this.shares.add(namespace, records, bytes);
  }

  /** `records` records of `namespace`, `bytes` together, left a queue. */
  remove(namespace: string, records: number, bytes: number): void {
    this.used -= bytes;
    this.shares.remove(namespace, records, bytes);
  }

  /** Bytes held in all queues. */
  get held(): number {
    return this.used;
  }
}
