import type { Writable } from 'node:stream';

/**
 * Resolves when a writable that refused more data drains, closes or fails, and leaves no listener
 * behind: `Promise.race` over `events.once` kept the losers' `close`/`error` listeners on the
 * response for every wait (hundreds on one slow reader).
 */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
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

/** Writes text; when the client reads slower than we write, waits for the socket to drain instead of buffering in memory. */
export async function writeWithBackpressure(out: Writable, text: string): Promise<void> {
  if (text === '' || out.destroyed) return;
  if (out.write(text)) return;
  // A response closed meanwhile never drains and never emits `close` again.
  if (out.destroyed) return;
  await drained(out);
}
