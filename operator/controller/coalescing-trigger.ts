/**
 * The operator's work queue. Reconcile is global (every event recompiles everything), so the queue
 * holds one bit: "dirty". Events within `debounceMs` of each other merge into one run, a run waits
 * at most `maxWaitMs` after the first event, and runs never overlap; an event during a run causes
 * exactly one more run after it. Runs start at least `minIntervalMs` apart: a reconcile publishes a
 * snapshot to every data-plane pod and writes statuses, and a vLLM rollout's endpoint churn (an
 * event every few hundred ms for minutes) would otherwise publish at that rate.
 */
export class CoalescingTrigger {
  private timer: NodeJS.Timeout | undefined;
  private firstEventAt: number | undefined;
  private running = false;
  private dirtyWhileRunning = false;
  private stopped = false;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  runs = 0;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly debounceMs: number,
    private readonly maxWaitMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly minIntervalMs = 0,
  ) {}

  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirtyWhileRunning = true;
      return;
    }
    const now = Date.now();
    this.firstEventAt ??= now;
    const wait = Math.max(0, Math.min(this.debounceMs, this.firstEventAt + this.maxWaitMs - now), this.lastRunAt + this.minIntervalMs - now);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), wait);
  }

  private async fire(): Promise<void> {
    this.firstEventAt = undefined;
    this.running = true;
    this.lastRunAt = Date.now();
    try {
      this.runs++;
      await this.run();
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
      if (this.dirtyWhileRunning) {
        this.dirtyWhileRunning = false;
        this.trigger();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
