import { writeSync } from 'node:fs';
import { type DestinationStream, pino } from 'pino';

/** The longest a log line waits for the lines after it. */
export const LOG_BATCH_MS = 20;

/** Where batched lines go: pino's asynchronous stdout writer (sonic-boom), or a test's. */
export interface LineWriter {
  write(text: string): unknown;
  flushSync(): void;
}

export interface BatchedDestination extends DestinationStream {
  /** Hands what is pending to the writer now. */
  flush(cb?: () => void): void;
  /** At exit: empties the writer, then writes what is pending synchronously to `fd`. */
  flushSync(fd: number): void;
}

/**
 * Log lines, written asynchronously (a synchronous write blocks the event loop whenever stdout, a
 * pipe under Kubernetes, is slow to drain) and in batches: the lines of `batchMs` leave in one
 * write. Each asynchronous write is a round trip through a thread-pool thread (two wake-ups and an
 * event-loop turn); once per request, on a gateway pinned to one core, that round trip delayed the
 * next request at concurrency 1.
 */
export function batchedDestination(out: LineWriter, batchMs = LOG_BATCH_MS): BatchedDestination {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = (cb?: () => void): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending !== '') {
      const text = pending;
      pending = '';
      out.write(text);
    }
    cb?.();
  };
  return {
    write(line: string): void {
      pending += line;
      if (timer === undefined) timer = setTimeout(flush, batchMs).unref();
    },
    flush,
    flushSync(fd: number): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      // What the writer still holds is older than what is pending here.
      out.flushSync();
      if (pending !== '') writeSync(fd, pending);
      pending = '';
    },
  };
}

/** The process's log destination: stdout, asynchronous and batched; what is pending is written when the process exits. */
export function logDestination(): DestinationStream {
  const dest = batchedDestination(pino.destination({ sync: false }));
  process.once('exit', () => {
    try {
      dest.flushSync(1);
    } catch {
      // stdout is gone (a closed pipe): nothing is left to write to.
    }
  });
  return dest;
}
