/**
 * The client of one request, as routing sees it: whether it has left, and a signal that fires when
 * it leaves. The signal (an AbortController, with its EventTarget) is made only when something has
 * to stop with the client (a stream, a retry's wait, a guardrail call): a complete answer that is
 * read to its end whatever the client does only ever asks `aborted`.
 */
export class ClientLink {
  private controller: AbortController | undefined;
  private reason: Error | undefined;

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

  /** The client left; the first reason counts. */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
