import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { MAX_ERROR_BODY_BYTES } from '../../config/route-limits.js';
import type { OpenAiErrorBody } from '../../core/gateway-error.js';
import { scrubJson, scrubText } from '../../providers/scrub-credentials.js';

// The upstream is asked for identity, but it (or a proxy before it) may compress all the same: an
// error body is decoded to be scrubbed, and relayed decoded.
const DECODERS: Readonly<Record<string, () => Transform>> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

/** What is relayed of an upstream error answer: its body, and whether that is still the upstream's content-type. */
export interface ScrubbedErrorBody {
  body: string;
  /** False when the body was replaced by the gateway's own OpenAI error JSON. */
  upstreamType: boolean;
}

/**
 * Reads at most MAX_ERROR_BODY_BYTES of a stream (and, when it decodes `raw`, of `raw` too): an
 * upstream that answers an error with megabytes, or with a small body that decodes to megabytes,
 * costs nothing. Whatever arrived before the stream ended, failed or was cut is the result.
 */
function readCapped(raw: IncomingMessage, source: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let rawSize = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      source.off('data', onData);
      if (source !== raw) source.destroy();
      // What is left is not wanted, but it is read and dropped rather than cut: the proxy destroys
      // the client's response when the upstream's ends incomplete, and the client would get no
      // answer at all. Nothing of it is kept; the route's timeout bounds an upstream that never ends.
      if (!raw.complete) raw.resume();
      resolve(Buffer.concat(parts));
    };
    const onData = (chunk: Buffer): void => {
      parts.push(chunk.subarray(0, MAX_ERROR_BODY_BYTES - size));
      size += chunk.length;
      if (size >= MAX_ERROR_BODY_BYTES) finish();
    };
    source.on('data', onData);
    source.on('end', finish);
    source.on('error', finish);
    raw.on('error', finish);
    // Cut off upstream: a decoder waiting for the rest would never end.
    raw.on('close', () => {
      if (!raw.complete) finish();
    });
    if (source !== raw) {
      raw.on('data', (chunk: Buffer) => {
        rawSize += chunk.length;
        if (rawSize > MAX_ERROR_BODY_BYTES) finish();
      });
    }
  });
}

/**
 * An upstream error answer (status >= 400) as it may reach the client: the same scrub as every
 * upstream error text (scrub-credentials.ts) — each string of a JSON body, else the text — so that
 * an upstream (or a proxy before it) that echoes the Provider's credential does not hand it to the
 * caller. A body in an encoding the gateway cannot decode is replaced by one saying so.
 */
export async function scrubbedErrorBody(res: IncomingMessage, status: number, secrets: readonly string[]): Promise<ScrubbedErrorBody> {
  const encoding = String(res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder = encoding === 'identity' ? undefined : DECODERS[encoding];
  if (encoding !== 'identity' && decoder === undefined) {
    res.destroy();
    const unread: OpenAiErrorBody = {
      error: { message: `the upstream answered HTTP ${status} with a body in content-encoding ${scrubText(encoding, secrets)}, which the gateway cannot read`, type: 'server_error', param: null, code: 'upstream_error' },
    };
    return { body: JSON.stringify(unread), upstreamType: false };
  }
  const text = (await readCapped(res, decoder === undefined ? res : res.pipe(decoder()))).toString('utf8');
  try {
    return { body: JSON.stringify(scrubJson(JSON.parse(text), secrets)), upstreamType: true };
  } catch {
    // Not JSON, cut at the limit, or nested too deep to walk: scrubbed as text.
    return { body: scrubText(text, secrets), upstreamType: true };
  }
}
