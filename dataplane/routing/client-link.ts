const noop = (): void => undefined;

/**
 * The client of one request, as routing sees it: whether it has left, and a signal that fires when
 * it leaves. The signal (an AbortController, with its EventTarget) is made only when something has
 * to take one (a retry's wait, a guardrail call); a stream's upstream attempt follows the client with
 * `onAbort`, and a complete answer that is read to its end whatever the client does only asks `aborted`.
 */
export class ClientLink {
  private controller: AbortController | undefined;
  private reason: Error | undefined;
  /** `onAbort` callbacks: every stream's attempt follows the client, and a signal for it cost an AbortController and its EventTarget before the first upstream byte. */
  private listeners: ((reason: Error) => void)[] | undefined;

  /** The client left. */
  get aborted(): boolean {
    return this.reason !== undefined;
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
   * 'abort' listener on `signal` would not). Returns the function that stops listening.
   */
  onAbort(listener: (reason: Error) => void): () => void {
    if (this.reason !== undefined) return noop;
    (this.listeners ??= []).push(listener);
    return () => {
      const listeners = this.listeners;
      const i = listeners === undefined ? -1 : listeners.indexOf(listener);
      if (i >= 0) listeners?.splice(i, 1);
    };
  }

  /** The client left; the first reason counts. */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(reason);
    this.controller?.abort(reason);
  }
}
