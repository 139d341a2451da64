/**
 * The streams this process is writing, each by how to cut it: at the end of a drain, every stream
 * still running is cut with an error event its client can read (and retry on), instead of a
 * connection reset that looks like a network failure.
 */
export class LiveStreams {
  private readonly cuts = new Set<(reason: Error) => void>();
  private emptied: (() => void) | undefined;

  get size(): number {
    return this.cuts.size;
  }

  /** Tracks a stream until the returned function is called (once it has ended, however). */
  track(cut: (reason: Error) => void): () => void {
    this.cuts.add(cut);
    return () => {
      this.cuts.delete(cut);
      if (this.cuts.size === 0) this.emptied?.();
    };
  }

  /** Cuts every stream with `reason`; resolves once each has ended (its error written) or after `graceMs`. */
  cutAll(reason: Error, graceMs: number): Promise<void> {
    if (this.cuts.size === 0) return Promise.resolve();
    for (const cut of [...this.cuts]) cut(reason);
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
