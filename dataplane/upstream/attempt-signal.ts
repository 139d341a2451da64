/**
 * Stops one upstream attempt (its timeout, or a streaming client that left). undici takes an
 * EventEmitter-like signal with `aborted`, `reason` and `on`/`removeListener` for 'abort'; an
 * AbortController costs an EventTarget per attempt and listener bookkeeping in it, on every request.
 * Not an EventEmitter either: its `_events` (a dictionary object) and the wrapper `once()` binds
 * were ~0.4 KB that every held stream kept. An attempt has one or two listeners, kept in a field
 * (an array only from a second).
 */
export class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  private listener: (() => void) | undefined;
  private more: (() => void)[] | undefined;

  /** Calls `listener` when the signal aborts (only 'abort' is ever emitted). */
  on(_event: 'abort', listener: () => void): this {
    if (this.aborted) return this;
    if (this.listener === undefined) this.listener = listener;
    else (this.more ??= []).push(listener);
    return this;
  }

  /** The same as on(): 'abort' comes once, and its listeners are let go then. */
  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    if (this.listener === listener) this.listener = this.more?.shift();
    else {
      const i = this.more?.indexOf(listener) ?? -1;
      if (i >= 0) this.more?.splice(i, 1);
    }
    return this;
  }

  off(event: 'abort', listener: () => void): this {
    return this.removeListener(event, listener);
  }

  /** The first reason counts; listeners run once, in the order they were added. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const { listener, more } = this;
    this.listener = undefined;
    this.more = undefined;
    listener?.();
    if (more !== undefined) for (const l of more) l();
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
