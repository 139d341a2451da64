import { EventEmitter } from 'node:events';

/**
 * Stops one upstream attempt (its timeout, or a streaming client that left). undici takes an
 * EventEmitter with `aborted` and `reason` as a request's signal; an AbortController costs an
 * EventTarget per attempt and listener bookkeeping in it, on every request.
 */
export class AttemptSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  /** The first reason counts; listeners of 'abort' run once. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** What stops an upstream request: an AbortSignal, or the router's lighter AttemptSignal. */
export type UpstreamSignal = AbortSignal | AttemptSignal;

/** An AbortSignal that follows `signal`, for APIs that take nothing else (timers/promises). */
export function asAbortSignal(signal: UpstreamSignal): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.once('abort', () => controller.abort(signal.reason));
  return controller.signal;
}
