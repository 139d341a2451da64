/**
 * The answers this process is writing, each by how to cut it: at the end of a drain, every stream
 * still running is cut with an error event its client can read (and retry on), and every request
 * not answered yet with an error answer, instead of a connection reset that looks like a network
 * failure.
 */
export class LiveStreams {
  private readonly cuts = new Set<(reason: Error) => void>();
  /** Requests whose answer has not started (they may become streams, tracked as such then). */
  private readonly answers = new Set<(reason: Error) => void>();
  private emptied: (() => void) | undefined;

  get size(): number {
    return this.cuts.size + this.answers.size;
  }

  /** Tracks a stream until the returned function is called (once it has ended, however). */
  track(cut: (reason: Error) => void): () => void {
    this.cuts.add(cut);
    return () => {
      this.cuts.delete(cut);
      this.ended();
    };
  }

  /**
   * Tracks a request until `untrackAnswer(cut)` (once its response has closed): `cut` answers it
   * with the reason when it has not been answered by then. Two calls rather than a returned
   * function: the caller's own 'close' listener untracks it, with no closure more per request.
   */
  trackAnswer(cut: (reason: Error) => void): void {
    this.answers.add(cut);
  }

  untrackAnswer(cut: (reason: Error) => void): void {
    this.answers.delete(cut);
    this.ended();
  }

  private ended(): void {
    if (this.size === 0) this.emptied?.();
  }

  /**
   * Cuts every stream with `reason` and answers every request not yet answered with
   * `answerReason`; resolves once each has ended (its error written) or after `graceMs`.
   */
  cutAll(reason: Error, graceMs: number, answerReason: Error = reason): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    for (const cut of [...this.answers]) cut(answerReason);
    for (const cut of [...this.cuts]) cut(reason);
    if (this.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, graceMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.emptied = done;
    });
  }
}
