/**
 * Requests whose handling has not finished, which can outlive their response: a stream cut by the
 * client or by the end of a drain is metered and charged after its socket closed. Shutdown waits
 * for them before it reports usage, or that spend would leave with the pod.
 */
export class RunningRequests {
  private count = 0;

  get running(): number {
    return this.count;
  }

  begin(): void {
    this.count++;
  }

  /** Bound: handed to a promise's then() as it is, with no closure per request. */
  readonly end = (): void => {
    this.count--;
  };

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
