import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { gzip, gzipSync } from 'node:zlib';
import { objectName, partitionPrefix } from '../../../config/capture-layout.js';
import type { CaptureDestinationConfig } from '../../../config/data-policy-config.js';
import { signRequest } from '../../../config/sigv4.js';
import { type CaptureDestination, PartialWrite } from '../bounded-exporter.js';
import { lineGroups } from '../line-batch.js';
import { warmUpRecord } from '../warm-up.js';
import { send } from './http-send.js';

type S3Config = Extract<CaptureDestinationConfig, { type: 's3' }>;

// Level 1: JSON Lines still shrink several times, at a fraction of the default level's CPU per record.
// On the request thread (no capture worker), on libuv's thread pool: a large batch is not compressed on
// the thread that serves requests. On the capture worker, inline: nothing there waits on it, and the
// pool's round trip and async zlib handle cost more CPU than they save (~0.3 µs a record of ~0.9,
// bench/results/capture-s10-2026-12-05.md).
const gzipOnPool = promisify(gzip);
const gzipAsync = (data: Buffer): Promise<Buffer> => (isMainThread ? gzipOnPool(data, { level: 1 }) : Promise.resolve(gzipSync(data, { level: 1 })));

/**
 * An S3-compatible bucket (path-style requests, SigV4): each batch becomes one gzip-compressed
 * JSON Lines object per partition and policy, metadata and content in separate objects so that
 * their retention can differ (config/capture-layout.ts). Object names carry the writing policy,
 * then are unique per process (`instance`) and batch.
 */
export function s3Destination(config: S3Config, instance: string = randomUUID().slice(0, 8), timeoutMs = 30_000): CaptureDestination {
  let sequence = 0;
  const putLines = async (key: string, lines: Buffer): Promise<void> => putObject(config, key, await gzipAsync(lines), timeoutMs);
  return {
    async write(batch) {
      const batchId = `${Date.now()}-${instance}-${sequence++}`;
      // Records of the groups stored whole (metadata and content) before a PUT failed: written.
      let written = 0;
      try {
        for (const group of batch) {
          const name = objectName(group.policyId, batchId, '.jsonl.gz');
          await putLines(`${partitionPrefix(config.prefix, 'metadata', group.namespace, group.time)}${name}`, group.metadata);
          if (group.content.length > 0) await putLines(`${partitionPrefix(config.prefix, 'content', group.namespace, group.time)}${name}`, group.content);
          written += group.records;
        }
      } catch (error) {
        throw written > 0 ? new PartialWrite(written, error) : error;
      }
    },
    async warm() {
      for (const group of lineGroups([warmUpRecord()])) {
        const key = `${partitionPrefix(config.prefix, 'content', group.namespace, group.time)}${objectName(group.policyId, 'warm-up', '.jsonl.gz')}`;
        signedPut(config, key, await gzipAsync(group.content));
      }
    },
  };
}

async function putObject(config: S3Config, key: string, body: Uint8Array, timeoutMs: number): Promise<void> {
  const { url, headers } = signedPut(config, key, body);
  const res = await send(url, 'PUT', headers, body, timeoutMs);
  if (res.status < 200 || res.status > 299) throw new Error(`S3 PUT ${config.bucket}/${key} answered ${res.status}: ${scrubbed(res.body.toString('utf8'), [config.accessKeyId.reveal(), config.secretAccessKey.reveal()])}`);
}

/** The most of an error answer's body a PUT's error keeps. */
export const MAX_ERROR_BODY_CHARS = 200;

/**
 * At most MAX_ERROR_BODY_CHARS of an error answer's body, the destination's credentials in it
 * replaced before it is cut (as the operator's S3 store does): an endpoint that echoes the request
 * (a proxy's error page, a misconfigured server) must not put a secret where the error may be logged.
 */
export function scrubbed(text: string, credentials: readonly string[]): string {
  const known = credentials.filter((v) => v.length >= 4);
  // Whatever is past the longest credential beyond the cut cannot reach into what is kept.
  let out = text.slice(0, MAX_ERROR_BODY_CHARS + Math.max(0, ...known.map((v) => v.length)));
  for (const value of known) out = out.split(value).join('[credential]');
  out = out.slice(0, MAX_ERROR_BODY_CHARS);
  // Cut on a character's boundary: a high surrogate last is half of a pair either cut split.
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? out.slice(0, -1) : out;
}

/** The PUT of one object: its URL and headers, signed. */
function signedPut(config: S3Config, key: string, body: Uint8Array): { url: URL; headers: Record<string, string> } {
  const url = `${config.endpoint}/${config.bucket}/${key}`;
  // The object is a .jsonl.gz file, stored as such (no content-encoding: readers get the gzip bytes).
  const headers = { 'content-type': 'application/gzip', 'x-amz-content-sha256': sha256(body) };
  const signed = signRequest(
    { method: 'PUT', url, headers, body, region: config.region, service: 's3' },
    { accessKeyId: config.accessKeyId.reveal(), secretAccessKey: config.secretAccessKey.reveal() },
    Date.now(),
  );
  return { url: new URL(url), headers: { ...headers, ...signed.headers } };
}

function sha256(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}
