import type { Transport } from '../../upstream/transport.js';
import { readCapped } from '../../upstream/read-capped.js';

/** What a webhook or moderation service said, or why it could not say anything. */
export type RemoteVerdict =
  | { ok: true; flagged: boolean; reason?: string; categories?: string[]; texts?: string[] }
  | { ok: false; error: string };

/** Largest answer read from a check service: verdicts are small, masked texts at most what was sent. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * POSTs JSON and reads a JSON answer within `timeoutMs` (connect included). Every failure is a
 * value with a short reason that names no content: a status, a timeout, a parse error.
 */
export async function postJson(
  transport: Transport,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ ok: true; json: unknown } | { ok: false; error: string }> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([timeout, signal]);
  try {
    const res = await transport.send(
      { url, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body: JSON.stringify(body) },
      { signal: both, connectTimeoutMs: timeoutMs },
    );
    const answer = await readCapped(res.body, MAX_ANSWER_BYTES);
    if (res.status !== 200) return { ok: false, error: `answered HTTP ${res.status}` };
    if (!answer.complete) return { ok: false, error: `answer larger than ${MAX_ANSWER_BYTES} bytes` };
    try {
      return { ok: true, json: JSON.parse(answer.text()) as unknown };
    } catch {
      return { ok: false, error: 'answer is not JSON' };
    }
  } catch (err) {
    if (timeout.aborted) return { ok: false, error: `no answer within ${timeoutMs} ms` };
    if (signal.aborted) return { ok: false, error: 'request cancelled' };
    const code = (err as { code?: unknown }).code;
    return { ok: false, error: `unreachable (${typeof code === 'string' ? code : (err as Error).name})` };
  }
}
