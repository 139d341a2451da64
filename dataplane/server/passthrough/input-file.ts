import { type Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { GatewayError } from '../../core/gateway-error.js';
import { shownToken } from '../../core/shown-token.js';
import { refusedLiteral } from '../../config/egress-guard.js';
import { connectionFailureText, GatewayWordsError } from '../../upstream/connection-failure.js';
import { passThroughPath } from './passthrough-paths.js';
import type { ForwardTarget } from './passthrough-route.js';

/**
 * A JSONL file of the Provider's account that a request makes the upstream run (a batch's input
 * file, a fine-tuning job's training file, an eval run's items), read and checked before it goes
 * upstream.
 */
export interface InputFile {
  id: string;
  /** The request field that names it: a refusal's `param`. */
  param: string;
  /** How a refusal names it: "the batch's input file". */
  title: string;
  /** A refusal's code: `invalid_<code>`, `<code>_too_large`, `<code>_unreadable`. */
  code: string;
}

/** Checks a file's lines one at a time (at most one held); throws the first refusal. */
export interface LineSink {
  /** One line of the file, without its newline. */
  add(text: string, line: number): void;
}

/** What the gateway reads of an input file to check it. */
export interface InputFileLimits {
  /** The whole file: the route's maxUploadBytes (the largest file its callers may upload through it). */
  maxFileBytes: number;
  /** One line (one request, one example): the gateway's limit on a request body. */
  maxLineBytes: number;
  /** When the route's total timeout runs out: the file is read before it, or the request is refused. */
  deadline: number;
}

export const inputFileErrors = {
  badFileId: (file: InputFile): GatewayError =>
    new GatewayError(400, `invalid_${file.code}`, 'invalid_request_error', `${file.param} must be a file id (1 to 256 letters, digits and _-.:~=+@)`, { param: file.param }),
  notFound: (file: InputFile): GatewayError =>
    new GatewayError(400, `invalid_${file.code}`, 'invalid_request_error', `${file.title} ${file.id} was not found at the route's targets`, { param: file.param }),
  tooLarge: (file: InputFile, limit: number): GatewayError =>
    new GatewayError(
      413,
      `${file.code}_too_large`,
      'invalid_request_error',
      `${file.title} ${file.id} is larger than ${limit} bytes, the route's spec.passThrough.maxUploadBytes, which bounds what the gateway reads of it to check it`,
      { param: file.param },
    ),
  lineTooLong: (file: InputFile, line: number, limit: number): GatewayError =>
    new GatewayError(413, `${file.code}_too_large`, 'invalid_request_error', `line ${line} of ${file.title} ${file.id} is longer than ${limit} bytes, the gateway's limit on a request body`, { param: file.param }),
  unreadable: (file: InputFile, why: readonly string[]): GatewayError =>
    new GatewayError(502, `${file.code}_unreadable`, 'server_error', `${file.title} ${file.id} could not be read to check it: ${why.join('; ')}`),
};

const NO_QUERY = new URLSearchParams();

/**
 * Reads an input file (GET /v1/files/{id}/content, with the Provider's credentials) from
 * the route's targets in order, until one has it, and hands each of its lines to `lines`. Streamed
 * and bounded: the file by `maxFileBytes` (413), a line by `maxLineBytes` (413), the time by the
 * route's total timeout. A target that does not have it (404) or cannot be read is passed over;
 * 400 when none has it, 502 when none could be read.
 */
export async function readInputFile(
  targets: readonly ForwardTarget[],
  file: InputFile,
  lines: LineSink,
  limits: InputFileLimits,
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<void> {
  const path = `/v1/files/${file.id}/content`;
  // The id becomes a path upstream: only what the files endpoint itself takes as one (passthrough-paths.ts ID).
  if (passThroughPath(path)?.route !== '/v1/files/{id}/content') throw inputFileErrors.badFileId(file);
  const found = await firstAnswer(targets, path, limits.deadline, agents);
  if (found === undefined) throw inputFileErrors.notFound(file);
  if (Array.isArray(found)) throw inputFileErrors.unreadable(file, found.length === 0 ? ['no target of the route serves files'] : found);
  const res = found;
  if (Number(res.headers['content-length'] ?? 0) > limits.maxFileBytes) {
    res.destroy();
    throw inputFileErrors.tooLarge(file, limits.maxFileBytes);
  }
  return splitLines(res, file, limits, lines);
}

/**
 * GETs `path` (an OpenAI path) from the route's targets in order, with the Provider's credentials,
 * until one answers 200 as it is (not compressed): that answer, to be read and bounded by the
 * caller. Undefined when the targets that were reached all answered 404; else why none could be
 * read (empty when no target serves the path).
 */
export async function firstAnswer(targets: readonly ForwardTarget[], path: string, deadline: number, agents: { http: HttpAgent; https: HttpsAgent }): Promise<IncomingMessage | string[] | undefined> {
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
    const left = deadline - Date.now();
    if (left < 1) {
      failures.push(`${to.target.providerId}: the route's total timeout ran out`);
      break;
    }
    let res: IncomingMessage;
    try {
      res = await get(url, to.forwarding.headers(to.at), url.protocol === 'https:' ? agents.https : agents.http, left);
    } catch (err) {
      failures.push(`${to.target.providerId}: ${connectionFailureText(err)}`);
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
      failures.push(`${to.target.providerId} sent it ${shownToken(encoding)}-encoded, though asked for it as it is`);
      continue;
    }
    return res;
  }
  if (missing && failures.length === 0) return undefined;
  return failures;
}

function get(url: URL, headers: Record<string, string>, agent: HttpAgent | HttpsAgent, timeoutMs: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // As it is: a compressed file could not be bounded by what is read of it.
    const req = send(url, { method: 'GET', headers: { ...headers, 'accept-encoding': 'identity' }, agent, timeout: timeoutMs }, resolve);
    req.once('timeout', () => req.destroy(new GatewayWordsError(`the upstream sent nothing for ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** Splits the file into lines as it streams (at most one line held), each handed to `lines`; the first refusal ends the read. */
export function splitLines(res: Readable, file: InputFile, limits: InputFileLimits, lines: LineSink): Promise<void> {
  return new Promise((resolve, reject) => {
    let total = 0;
    let line = 1;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let done = false;
    const timer = setTimeout(() => stop(inputFileErrors.unreadable(file, ["the route's total timeout ran out while it was read"])), Math.max(1, limits.deadline - Date.now()));
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
      if (total > limits.maxFileBytes) return stop(inputFileErrors.tooLarge(file, limits.maxFileBytes));
      try {
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          if (pendingBytes + nl - start > limits.maxLineBytes) throw inputFileErrors.lineTooLong(file, line, limits.maxLineBytes);
          take(chunk.subarray(start, nl));
          start = nl + 1;
        }
        if (start < chunk.length) {
          pendingBytes += chunk.length - start;
          if (pendingBytes > limits.maxLineBytes) throw inputFileErrors.lineTooLong(file, line, limits.maxLineBytes);
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
    res.once('close', () => stop(inputFileErrors.unreadable(file, ['its answer broke off'])));
    res.once('error', (err) => stop(inputFileErrors.unreadable(file, [connectionFailureText(err)])));
  });
}

/**
 * Reads a whole answer of at most `maxBytes` before `deadline`: its bytes, or why it could not be
 * read (too large, too slow, broken off). For a small JSON object of the account (an eval), not a file.
 */
export function readBounded(res: Readable, maxBytes: number, deadline: number): Promise<Buffer | { tooLarge: boolean; why: string }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let total = 0;
    let done = false;
    const stop = (result: Buffer | { tooLarge: boolean; why: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!Buffer.isBuffer(result)) res.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => stop({ tooLarge: false, why: "the route's total timeout ran out while it was read" }), Math.max(1, deadline - Date.now()));
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > maxBytes) return stop({ tooLarge: true, why: `it is larger than ${maxBytes} bytes` });
      parts.push(chunk);
    });
    res.once('end', () => stop(Buffer.concat(parts)));
    res.once('close', () => stop({ tooLarge: false, why: 'its answer broke off' }));
    res.once('error', (err) => stop({ tooLarge: false, why: connectionFailureText(err) }));
  });
}
