import type { Writable } from 'node:stream';

/**
 * Resolves when a writable that refused more data drains, closes or fails, and leaves no listener
 * behind: `Promise.race` over `events.once` kept the losers' `close`/`error` listeners on the
 * response for every wait (hundreds on one slow reader). A client that reads nothing for
 * `stallMs` is cut: it would otherwise hold its stream, its budget hold and its rate-limit
 * admission, unmetered, for as long as it keeps the connection open.
 */
function drained(out: Writable, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    const stalled = setTimeout(() => out.destroy(), stallMs);
    const done = (): void => {
      clearTimeout(stalled);
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}

/**
 * Writes text; when the client reads slower than we write, waits for the socket to drain instead
 * of buffering in memory, for at most `stallMs` (the route's stream idle timeout) before cutting it.
 */
export async function writeWithBackpressure(out: Writable, text: string, stallMs: number): Promise<void> {
  if (text === '' || out.destroyed) return;
  if (out.write(text)) return;
  // A response closed meanwhile never drains and never emits `close` again.
  if (out.destroyed) return;
  await drained(out, stallMs);
}
