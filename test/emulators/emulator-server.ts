import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What an emulator does with one request; each emulator renders it in its provider's wire format. */
export type Behaviour =
  /**
   * `stop`: the text ended on this stop sequence of the request (for providers that say so).
   * `msRequestIdOnly` (Azure only): the answer names itself in x-ms-request-id alone, as deployments
   * served without Azure's API Management front do.
   */
  | { kind: 'text'; text?: string; stop?: string; msRequestIdOnly?: boolean }
  | { kind: 'tool'; name: string; args: Record<string, unknown> }
  /**
   * Extended thinking: a signed thinking block, then `redacted` an encrypted one, then the text
   * (Anthropic; Bedrock as reasoningContent blocks; Gemini as a thought part, unsigned, without the
   * encrypted one), where the request asked for thinking.
   */
  | { kind: 'thinking'; thinking: string; text: string; redacted?: boolean }
  /** A structured answer: in the provider's JSON mode, or as a call of the tool the request forces. */
  | { kind: 'json'; value: Record<string, unknown> }
  /**
   * A 429. `retryAfterMs` (Azure only): the wait it asks for, in retry-after-ms and (rounded up to
   * seconds) retry-after, as Azure OpenAI sends both; default 0.
   */
  | { kind: 'rate-limit'; retryAfterMs?: number }
  | { kind: 'overloaded' }
  | { kind: 'server-error' }
  | { kind: 'bad-request'; message?: string }
  | { kind: 'context-length' }
  | { kind: 'safety' }
  /** Azure only: the answer stopped by the output content filter (200, finish_reason content_filter). */
  | { kind: 'output-filtered' }
  | { kind: 'stream-error' }
  /** A stream that opens (Anthropic's message_start and ping) and fails with an overload before any content. */
  | { kind: 'stream-overloaded' }
  /**
   * A stream that shows nothing of its reasoning for `thinkMs` (Anthropic opens its message and a
   * redacted thinking block; the Responses API its Response and a reasoning item; Gemini sends
   * nothing), then `text` a word every 50 ms, and never ends: the client stopping it ends it.
   */
  | { kind: 'slow-stream'; thinkMs: number; text: string }
  /** A Response with status failed (Responses API) whose error repeats the credential the request carried, as a proxy before an upstream may. */
  | { kind: 'response-failed' };

/** Usage every emulator reports, in its own shape; in OpenAI terms: prompt 20 (5 cached), completion 8. */
export const CANONICAL_USAGE = { inputTokens: 20, outputTokens: 8, cachedInputTokens: 5 };

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  body: Record<string, unknown>;
}

export interface Emulator {
  url: string;
  requests: ReceivedRequest[];
  /** Everything the emulator found wrong with the requests it received (empty when they were all valid). */
  problems: string[];
  script(...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

export type Handler = (req: ReceivedRequest, behaviour: Behaviour, res: ServerResponse, problems: string[]) => Promise<void> | void;

/** Writes bytes in small, uneven pieces, yielding between them, so that frames split at awkward places. */
export async function writeInPieces(res: ServerResponse, data: Buffer | string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const sizes = [1, 7, 3, 13, 2, 29, 5];
  let at = 0;
  for (let i = 0; at < bytes.length && !res.destroyed; i++) {
    const n = sizes[i % sizes.length] ?? 8;
    res.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((r) => setImmediate(r));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The rest of a `slow-stream` behaviour, after what the provider opens with: `thinkMs` of silence,
 * then each word of `text` as `event(word, i)` renders it, 50 ms apart, then an open stream until
 * the client leaves (at most 30 s).
 */
export async function slowStream(res: ServerResponse, b: { thinkMs: number; text: string }, event: (word: string, i: number) => string): Promise<void> {
  await sleep(b.thinkMs);
  const words = b.text.split(' ');
  for (let i = 0; i < words.length && !res.destroyed; i++) {
    res.write(event(i === 0 ? (words[i] ?? '') : ` ${words[i] ?? ''}`, i));
    await sleep(50);
  }
  const end = Date.now() + 30_000;
  while (!res.destroyed && Date.now() < end) await sleep(50);
  res.end();
}

/** An HTTP server that records requests, lets the emulator check them, and answers scripted behaviours in order. */
export async function startEmulator(handle: Handler, onRequest?: (req: ReceivedRequest, res: ServerResponse) => boolean): Promise<Emulator> {
  let behaviours: Behaviour[] = [{ kind: 'text' }];
  let next = 0;
  const requests: ReceivedRequest[] = [];
  const problems: string[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(parts);
      let body: Record<string, unknown> = {};
      try {
        const text = rawBody.toString('utf8');
        body = text && req.headers['content-type']?.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        problems.push(`${req.url}: body is not JSON`);
      }
      const received: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawBody, body };
      if (onRequest?.(received, res) === true) return;
      requests.push(received);
      const b = behaviours[Math.min(next, behaviours.length - 1)] ?? { kind: 'text' };
      next++;
      Promise.resolve(handle(received, b, res, problems)).catch((err: unknown) => {
        problems.push(`emulator failed: ${String(err)}`);
        res.destroy();
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    problems,
    script: (...b: Behaviour[]) => {
      behaviours = b.length > 0 ? b : [{ kind: 'text' }];
      next = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The vector every emulator returns for a text: deterministic, and exact in float32 (so base64 round-trips). */
export function embeddingVector(text: string, dimensions = 8): number[] {
  return Array.from({ length: dimensions }, (_, i) => ((text.charCodeAt(i % Math.max(1, text.length)) || 0) % 32 + i) / 32);
}

export function sse(event: string | undefined, data: unknown): string {
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

export function header(req: ReceivedRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
