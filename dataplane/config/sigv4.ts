import { createHash, createHmac } from 'node:crypto';

// AWS Signature Version 4, written against the published algorithm: canonical request → string to
// sign → derived signing key → signature → Authorization header. Shared by Bedrock requests, the S3
// capture destination and the operator's retention sweep of the same buckets.

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  url: string;
  /** Headers to sign besides host, x-amz-date and x-amz-security-token (e.g. content-type). */
  headers: Record<string, string>;
  body: string | Uint8Array;
  region: string;
  service: string;
}

export interface SignResult {
  /** Headers to add to the request: x-amz-date, authorization, x-amz-security-token when present. */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded (upper-case hex). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Non-S3 services: normalise the path, then encode each (already encoded) segment once more. */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = path.length > 1 && path.endsWith('/') && segments.length > 0 ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

export function canonicalQuery(search: string): string {
  const params: [string, string][] = [];
  for (const pair of search.replace(/^\?/, '').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
    params.push([uriEncode(name), uriEncode(value)]);
  }
  params.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return params.map(([k, v]) => `${k}=${v}`).join('&');
}

export function amzDate(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function signingKey(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, shortDate), region), service), 'aws4_request');
}

/**
 * Signing keys already derived, by date, region, service and secret. A key serves every request of
 * its day, and deriving it is four HMACs: ~10 µs of the ~22 µs that signing a Bedrock request cost
 * the request thread (bench/sigv4-sign.ts), as AWS's own SDKs cache it. Bounded: emptied when full
 * (a new day, rotated credentials and many regions only add entries).
 */
const signingKeys = new Map<string, Buffer>();
export const MAX_SIGNING_KEYS = 64;

function cachedSigningKey(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
  const id = `${shortDate}\n${region}\n${service}\n${secretAccessKey}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    key = signingKey(secretAccessKey, shortDate, region, service);
    signingKeys.set(id, key);
  }
  return key;
}

/** Signing keys held (tests). */
export const signingKeysHeld = (): number => signingKeys.size;

/** Signs a request; the clock is passed in so that callers stay pure and tests reproduce AWS's vectors. */
export function signRequest(input: SignInput, credentials: AwsCredentials, nowMs: number): SignResult {
  const url = new URL(input.url);
  const date = amzDate(nowMs);
  const shortDate = date.slice(0, 8);
  const signed: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) signed[name.toLowerCase()] = value.trim().replace(/\s+/g, ' ');
  signed.host = url.host;
  signed['x-amz-date'] = date;
  if (credentials.sessionToken !== undefined) signed['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(signed).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method.toUpperCase(),
    canonicalUri(url.pathname),
    canonicalQuery(url.search),
    names.map((n) => `${n}:${signed[n] ?? ''}\n`).join(''),
    signedHeaders,
    sha256Hex(input.body),
  ].join('\n');
  const scope = `${shortDate}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', cachedSigningKey(credentials.secretAccessKey, shortDate, input.region, input.service)).update(stringToSign).digest('hex');
  const headers: Record<string, string> = {
    'x-amz-date': date,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  if (credentials.sessionToken !== undefined) headers['x-amz-security-token'] = credentials.sessionToken;
  return { headers, canonicalRequest, stringToSign, signature };
}
