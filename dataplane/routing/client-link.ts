/**
 * The client of one request, as routing sees it: whether it has left, and a signal that fires when
 * it leaves. The signal (an AbortController, with its EventTarget) is made only when something has
 * to take one (a retry's wait, a guardrail call); a stream's upstream attempt follows the client with
 * `onAbort`, and a complete answer that is read to its end whatever the client does only asks `aborted`.
 */
export class ClientLink {
  private controller: AbortController | undefined;
  private reason: Error | undefined;
  /**
   * `onAbort` callbacks: every stream's attempt follows the client, and a signal for it cost an
   * AbortController and its EventTarget per held stream. One listener (the usual case) sits in a
   * field; an array is made only for a second.
   */
  private listener: ((reason: Error) => void) | undefined;
  private more: ((reason: Error) => void)[] | undefined;

  /** The client left. */
  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Why the client left (the first reason given), if it has. */
  get abortReason(): Error | undefined {
    return this.reason;
  }

  /** Aborts (with the reason `abort` was given) when the client leaves; already aborted if it has. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /**
   * Calls `listener` once, with the reason, when the client leaves; never when it already has (as an
   * 'abort' listener on `signal` would not), nor after `offAbort(listener)`.
   */
  onAbort(listener: (reason: Error) => void): void {
    if (this.reason !== undefined) return;
    if (this.listener === undefined) this.listener = listener;
    else (this.more ??= []).push(listener);
  }

  /** Stops calling `listener`. */
  offAbort(listener: (reason: Error) => void): void {
    if (this.listener === listener) this.listener = this.more?.shift();
    else {
      const i = this.more?.indexOf(listener) ?? -1;
      if (i >= 0) this.more?.splice(i, 1);
    }
  }

  /** The client left; the first reason counts. */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const { listener, more } = this;
    this.listener = undefined;
    this.more = undefined;
    listener?.(reason);
    if (more !== undefined) for (const l of more) l(reason);
    this.controller?.abort(reason);
  }
}
