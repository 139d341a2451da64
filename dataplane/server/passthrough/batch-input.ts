import { type Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { GatewayError } from '../../core/gateway-error.js';
import { refusedLiteral } from '../../config/egress-guard.js';
import { passThroughPath } from './passthrough-paths.js';
import type { ForwardTarget } from './passthrough-route.js';
import type { BatchLines } from './batch-lines.js';

/** What the gateway reads of a batch's input file to check it. */
export interface BatchInputLimits {
  /** The whole file: the route's maxUploadBytes (the largest file its callers may upload through it). */
  maxFileBytes: number;
  /** One line (one request): the gateway's limit on a request body. */
  maxLineBytes: number;
  /** When the route's total timeout runs out: the file is read before it, or the batch is refused. */
  deadline: number;
}

export const batchInputErrors = {
  badFileId: (): GatewayError => new GatewayError(400, 'invalid_batch_input', 'invalid_request_error', 'input_file_id must be a file id (1 to 256 letters, digits and _-.:~=+@)', { param: 'input_file_id' }),
  notFound: (fileId: string): GatewayError =>
    new GatewayError(400, 'invalid_batch_input', 'invalid_request_error', `the batch's input file ${fileId} was not found at the route's targets`, { param: 'input_file_id' }),
  tooLarge: (fileId: string, limit: number): GatewayError =>
    new GatewayError(
      413,
      'batch_input_too_large',
      'invalid_request_error',
      `the batch's input file ${fileId} is larger than ${limit} bytes, the route's spec.passThrough.maxUploadBytes, which bounds what the gateway reads of it to check its requests`,
      { param: 'input_file_id' },
    ),
  lineTooLong: (fileId: string, line: number, limit: number): GatewayError =>
    new GatewayError(413, 'batch_input_too_large', 'invalid_request_error', `line ${line} of the batch's input file ${fileId} is longer than ${limit} bytes, the gateway's limit on a request body`, { param: 'input_file_id' }),
  unreadable: (fileId: string, why: readonly string[]): GatewayError =>
    new GatewayError(502, 'batch_input_unreadable', 'server_error', `the batch's input file ${fileId} could not be read to check its requests: ${why.join('; ')}`),
};

const NO_QUERY = new URLSearchParams();

/**
 * Reads a batch's input file (GET /v1/files/{id}/content, with the Provider's credentials) from
 * the route's targets in order, until one has it, and hands each of its lines to `lines`. Streamed
 * and bounded: the file by `maxFileBytes` (413), a line by `maxLineBytes` (413), the time by the
 * route's total timeout. A target that does not have it (404) or cannot be read is passed over;
 * 400 when none has it, 502 when none could be read.
 */
export async function readBatchInput(
  targets: readonly ForwardTarget[],
  fileId: string,
  lines: BatchLines,
  limits: BatchInputLimits,
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<void> {
  const path = `/v1/files/${fileId}/content`;
  // The id becomes a path upstream: only what the files endpoint itself takes as one (passthrough-paths.ts ID).
  if (passThroughPath(path)?.route !== '/v1/files/{id}/content') throw batchInputErrors.badFileId();
  const failures: string[] = [];
  let missing = false;
  for (const to of targets) {
    const url = to.forwarding.url(path, NO_QUERY, to.at);
    if (url === undefined) continue;
    const refused = refusedLiteral(url.hostname);
    if (refused !== undefined) {
      failures.push(`${to.target.providerId}: ${refused.message}`);
      continue;
    }
    const left = limits.deadline - Date.now();
    if (left < 1) {
      failures.push(`${to.target.providerId}: the route's total timeout ran out`);
      break;
    }
    let res: IncomingMessage;
    try {
      res = await get(url, to.forwarding.headers(to.at), url.protocol === 'https:' ? agents.https : agents.http, left);
    } catch (err) {
      failures.push(`${to.target.providerId}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      if (status === 404) missing = true;
      else failures.push(`${to.target.providerId} answered ${status}`);
      continue;
    }
    const encoding = res.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      res.destroy();
      failures.push(`${to.target.providerId} sent it ${encoding}-encoded, though asked for it as it is`);
      continue;
    }
    if (Number(res.headers['content-length'] ?? 0) > limits.maxFileBytes) {
      res.destroy();
      throw batchInputErrors.tooLarge(fileId, limits.maxFileBytes);
    }
    return splitLines(res, fileId, limits, lines);
  }
  if (missing && failures.length === 0) throw batchInputErrors.notFound(fileId);
  throw batchInputErrors.unreadable(fileId, failures.length === 0 ? ['no target of the route serves files'] : failures);
}

function get(url: URL, headers: Record<string, string>, agent: HttpAgent | HttpsAgent, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // As it is: a compressed file could not be bounded by what is read of it.
    const req = send(url, { method: 'GET', headers: { ...headers, 'accept-encoding': 'identity' }, agent, timeout: timeoutMs }, resolve);
    req.once('timeout', () => req.destroy(new Error(`sent nothing for ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** Splits the file into lines as it streams (at most one line held), each handed to `lines`; the first refusal ends the read. */
export function splitLines(res: Readable, fileId: string, limits: BatchInputLimits, lines: BatchLines): Promise<void> {
  return new Promise((resolve, reject) => {
    let total = 0;
    let line = 1;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let done = false;
    const timer = setTimeout(() => stop(batchInputErrors.unreadable(fileId, ["the route's total timeout ran out while it was read"])), Math.max(1, limits.deadline - Date.now()));
    const stop = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err === undefined) return resolve();
      res.destroy();
      reject(err);
    };
    const take = (part: Buffer): void => {
      const text = pendingBytes === 0 ? part.toString('utf8') : Buffer.concat([...pending, part]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      lines.add(text.endsWith('\r') ? text.slice(0, -1) : text, line++);
    };
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > limits.maxFileBytes) return stop(batchInputErrors.tooLarge(fileId, limits.maxFileBytes));
      try {
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          if (pendingBytes + nl - start > limits.maxLineBytes) throw batchInputErrors.lineTooLong(fileId, line, limits.maxLineBytes);
          take(chunk.subarray(start, nl));
          start = nl + 1;
        }
        if (start < chunk.length) {
          pendingBytes += chunk.length - start;
          if (pendingBytes > limits.maxLineBytes) throw batchInputErrors.lineTooLong(fileId, line, limits.maxLineBytes);
          pending.push(chunk.subarray(start));
        }
      } catch (err) {
        stop(err);
      }
    });
    res.once('end', () => {
      try {
        if (pendingBytes > 0) take(Buffer.alloc(0));
        stop();
      } catch (err) {
        stop(err);
      }
    });
    res.once('close', () => stop(batchInputErrors.unreadable(fileId, ['its answer broke off'])));
    res.once('error', (err) => stop(batchInputErrors.unreadable(fileId, [err.message])));
  });
}
