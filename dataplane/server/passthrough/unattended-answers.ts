/**
 * Pass-through answers read on, or awaited, after their clients left (keep-reading.ts, the
 * handler's awaitAnswer): no response holds them open, so a draining data plane did not wait for
 * them and reported its usage and exited before they were charged. Shutdown waits for them up to its
 * drain deadline, then cuts those still open: each is then charged at what was read of it, or at
 * least its estimate (unit prices, a prompt estimate), before the final usage report.
 */
export class UnattendedAnswers {
  private readonly open = new Set<() => void>();

  get size(): number {
    return this.open.size;
  }

  /** `cut` ends the exchange (the request is then charged as cut short); returns what says it has been charged. */
  add(cut: () => void): () => void {
    // One function per registration, even when two share a `cut`.
    const entry = (): void => cut();
    this.open.add(entry);
    return () => {
      this.open.delete(entry);
    };
  }

  /**
   * Resolves with how many were cut: none when all were charged within `timeoutMs`. Those cut are
   * waited for (at most `cutGraceMs`): their exchanges close, and are charged, on their next events.
   */
  async settle(timeoutMs: number, cutGraceMs = 1_000): Promise<number> {
    await this.emptied(timeoutMs);
    const left = [...this.open];
    for (const cut of left) cut();
    await this.emptied(cutGraceMs);
    return left.length;
  }

  private async emptied(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.open.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
