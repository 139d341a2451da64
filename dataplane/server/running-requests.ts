/**
 * Requests whose handling has not finished, which can outlive their response: a stream cut by the
 * client or by the end of a drain is metered and charged after its socket closed. Shutdown waits
 * for them before it reports usage, or that spend would leave with the pod.
 */
export class RunningRequests {
  private count = 0;
  private readonly end = (): void => {
    this.count--;
  };

  get running(): number {
    return this.count;
  }

  track(done: Promise<unknown>): void {
    this.count++;
    done.then(this.end, this.end);
  }

  /** Resolves true once none runs, false when `timeoutMs` passed first. */
  async settled(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.count > 0) {
      if (Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }
}
