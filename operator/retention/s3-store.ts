import { createHash } from 'node:crypto';
import { EgressRefused } from '../../dataplane/config/egress-guard.js';
import { guardedConnector } from '../../dataplane/config/guarded-connector.js';
import { type AwsCredentials, signRequest } from '../../dataplane/config/sigv4.js';
import { Agent, request } from '../../dataplane/config/undici.js';
import { DELETE_BATCH, type ListPage, type PartitionStore } from './partition-store.js';
import { cutWithin } from '../kube/text-cut.js';

export interface S3Location {
  /** e.g. http://seaweedfs.storage:8333, without a trailing slash */
  endpoint: string;
  bucket: string;
  region: string;
}

/** An S3 error answer (or a network failure, status 0) in words that carry no credential. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (s: string): string => s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => XML_ENTITIES[e] ?? '');
const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&${Object.entries(XML_ENTITIES).find(([, v]) => v === c)?.[0] ?? 'amp'};`);
/**
 * The text of each `<name>…</name>` in order, found with indexOf: a lazy regular expression
 * (`<name>([\\s\\S]*?)</name>`) scans to the end from every opening tag that is never closed,
 * quadratic in a tenant's endpoint's answer (4 MiB of `<Code>` blocked the operator for minutes).
 */
function* elements(xml: string, name: string): Generator<string> {
  const open = `<${name}>`;
  const close = `</${name}>`;
  for (let from = 0; ; ) {
    const start = xml.indexOf(open, from);
    if (start === -1) return;
    const end = xml.indexOf(close, start + open.length);
    // No later opening tag can be closed either: every close after it is after this one.
    if (end === -1) return;
    yield xml.slice(start + open.length, end);
    from = end + close.length;
  }
}
const tag = (xml: string, name: string): string | undefined => {
  for (const text of elements(xml, name)) return unescapeXml(text);
  return undefined;
};
const blocks = (xml: string, name: string): string[] => [...elements(xml, name)];

/**
 * Largest answer read from a bucket: a listing of 1,000 keys of 1,024 bytes each is ~1.3 MB. The
 * endpoint is a tenant's (a DataPolicy destination), so what it sends is bounded.
 */
export const MAX_S3_ANSWER_BYTES = 4 * 1024 * 1024;

/** Characters of an error kept (it goes into a DataPolicy's status and Events). */
const MAX_ERROR_CHARS = 400;

// One keep-alive pool for every bucket, its connections through the egress guard: a destination's
// endpoint is never a cloud metadata or other link-local address (dataplane/config/egress-guard.ts).
let agent: Agent | undefined;

/**
 * The S3 calls retention needs (ListObjectsV2, DeleteObjects, and a probe), path-style and
 * SigV4-signed. Errors say the bucket, the endpoint, the status and S3's own code and message,
 * with the credentials cut out should a server echo them.
 */
export class S3Store implements PartitionStore {
  constructor(
    private readonly location: S3Location,
    private readonly credentials: AwsCredentials,
    private readonly timeoutMs = 30_000,
  ) {}

  async list(prefix: string, delimited: boolean, next?: string): Promise<ListPage> {
    const query = new URLSearchParams({ 'list-type': '2', prefix, 'max-keys': '1000' });
    if (delimited) query.set('delimiter', '/');
    if (next !== undefined) query.set('continuation-token', next);
    const xml = await this.call('GET', `?${query.toString()}`, '');
    const page: ListPage = {
      prefixes: blocks(xml, 'CommonPrefixes').map((b) => tag(b, 'Prefix') ?? '').filter((p) => p !== ''),
      objects: blocks(xml, 'Contents').map((b) => ({ key: tag(b, 'Key') ?? '', size: Number(tag(b, 'Size') ?? 0) })),
    };
    const token = tag(xml, 'NextContinuationToken');
    if (tag(xml, 'IsTruncated') === 'true' && token !== undefined && token !== '') page.next = token;
    return page;
  }

  async delete(keys: readonly string[]): Promise<{ failed: { key: string; reason: string }[] }> {
    if (keys.length === 0) return { failed: [] };
    if (keys.length > DELETE_BATCH) throw new Error(`at most ${DELETE_BATCH} keys per DeleteObjects`);
    // Quiet: the answer lists only the keys that failed.
    const body = `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${keys.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`;
    const xml = await this.call('POST', '?delete', body, { 'content-md5': createHash('md5').update(body).digest('base64'), 'content-type': 'application/xml' });
    // Only keys that were sent: the reasons go into the DataPolicy's status and an Event, scrubbed
    // as every error of the bucket's (before, a server's per-key messages went there as they were).
    const sent = new Set(keys);
    const failed: { key: string; reason: string }[] = [];
    for (const b of blocks(xml, 'Error')) {
      const key = tag(b, 'Key') ?? '';
      const code = tag(b, 'Code') ?? 'Error';
      if (!sent.has(key) || code === 'NoSuchKey') continue;
      failed.push({ key, reason: this.scrub(`${code}: ${tag(b, 'Message') ?? ''}`) });
    }
    return { failed };
  }

  /** The bucket answers a one-key listing with these credentials (what writing and sweeping need). */
  async probe(prefix: string): Promise<void> {
    await this.call('GET', `?${new URLSearchParams({ 'list-type': '2', prefix, 'max-keys': '1' }).toString()}`, '');
  }

  private async call(method: 'GET' | 'POST', query: string, body: string, extra: Record<string, string> = {}): Promise<string> {
    const { endpoint, bucket, region } = this.location;
    const url = `${endpoint}/${bucket}${query}`;
    const headers = { ...extra, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') };
    const signed = signRequest({ method, url, headers, body, region, service: 's3' }, this.credentials, Date.now());
    const where = `bucket ${bucket} at ${endpoint}`;
    let status: number;
    let text: string;
    try {
      agent ??= new Agent({ connect: guardedConnector(10_000) });
      const res = await request(url, { method, headers: { ...headers, ...signed.headers }, ...(method === 'POST' ? { body } : {}), dispatcher: agent, signal: AbortSignal.timeout(this.timeoutMs) });
      status = res.statusCode;
      text = await readAnswer(res.body, where, status);
    } catch (err) {
      if (err instanceof S3Error) throw err;
      const reason = err instanceof EgressRefused ? err.message : ((err as Error & { code?: string }).code ?? (err as Error).name);
      throw new S3Error(0, 'Unreachable', this.scrub(`${where} is unreachable (${reason})`));
    }
    if (status >= 200 && status <= 299) return text;
    const code = tag(text, 'Code') ?? `HTTP${status}`;
    const message = tag(text, 'Message');
    throw new S3Error(status, code, this.scrub(`${where} answered ${status} ${code}${message === undefined || message === '' ? '' : `: ${message}`}`));
  }

  /**
   * At most MAX_ERROR_CHARS of `text`, the credentials replaced before it is cut: cut first, a
   * credential across the cut kept its first part (a session token is hundreds of characters).
   */
  private scrub(text: string): string {
    const credentials = [this.credentials.accessKeyId, this.credentials.secretAccessKey, this.credentials.sessionToken].filter((v): v is string => v !== undefined && v.length >= 4);
    // Whatever is past the longest credential beyond the cut cannot reach into what is kept.
    let out = cutWithin(text, MAX_ERROR_CHARS + Math.max(0, ...credentials.map((v) => v.length)));
    for (const value of credentials) out = out.split(value).join('[credential]');
    return cutWithin(out, MAX_ERROR_CHARS);
  }
}

/** An answer's body as text, refused past MAX_S3_ANSWER_BYTES (the rest is not read). */
async function readAnswer(body: AsyncIterable<Buffer> & { destroy(): unknown }, where: string, status: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_S3_ANSWER_BYTES) {
      body.destroy();
      throw new S3Error(status, 'AnswerTooLarge', `${where} answered with more than ${MAX_S3_ANSWER_BYTES} bytes; the rest was not read`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
