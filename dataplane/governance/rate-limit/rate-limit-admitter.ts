import { GatewayError } from '../../core/gateway-error.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from '../types.js';
import type { LimitCheck, RateLimitBackend, TakeResult } from './backend.js';
import { limitChecks, type TokenCountPolicy } from './limit-checks.js';
import { formatResetDuration, rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js';

export type FailMode = 'open' | 'closed';

/** Counters for metrics; the observability side reads them (or uses onBackendError). */
export interface RateLimitStats {
  admitted: number;
  refused: number;
  /** Backend calls that failed (Redis down, timeout, bad reply), admissions and corrections alike. */
  backendErrors: number;
  /** Admissions let through unchecked because the backend failed and the fail mode is open. */
  failedOpen: number;
  /** Admissions refused because the backend failed and the fail mode is closed. */
  failedClosed: number;
  /** Token corrections at settle the backend did not take: those buckets keep the admission's estimate. */
  failedAdjust: number;
}

export interface RateLimitAdmitterOptions extends TokenCountPolicy {
  backend: RateLimitBackend;
  /** When the backend fails: open admits without limits, closed refuses with 503 (default open). */
  failMode?: FailMode;
  /** Called for each backend failure; `op` is "take" or "adjust". */
  onBackendError?: (err: unknown, op: 'take' | 'adjust') => void;
}

const NO_LIMITS: Admission = { headers: {}, settle: () => {}, charge: () => {} };

function refusal(request: AdmissionRequest, checks: readonly LimitCheck[], result: TakeResult, headers: Record<string, string>): GatewayError {
  let worst = 0;
  result.reports.forEach((r, i) => {
    if (r.waitMs > (result.reports[worst]?.waitMs ?? 0)) worst = i;
  });
  const check = checks[worst];
  const waitMs = result.reports[worst]?.waitMs ?? 0;
  const callerPart = check?.key.includes('caller=') === true ? ` (caller ${request.caller.id})` : '';
  const message =
    `Rate limit reached for route ${request.route.id}: ${check?.description ?? 'limit'}${callerPart}. ` +
    `Try again in ${formatResetDuration(waitMs)}.`;
  return new GatewayError(429, 'rate_limit_exceeded', 'rate_limit_error', message, {
    headers: { ...headers, 'retry-after': String(retryAfterSeconds(waitMs)), 'retry-after-ms': String(Math.max(1, waitMs)) },
  });
}

/**
 * An admission granted with limits to correct when it settles (once). A class rather than an object
 * with a settle closure: a held stream keeps its admission until the stream ends, and the closure
 * with its context was ~0.1 KB more per stream, and two more objects per request.
 */
class HeldLimits implements Admission {
  private settled = false;

  constructor(
    readonly headers: Record<string, string>,
    private readonly admitter: RateLimitAdmitter,
    private readonly checks: readonly LimitCheck[],
  ) {}

  settle(settlement: Settlement): void {
    if (this.settled) return;
    this.settled = true;
    this.admitter.correct(this.checks, settlement);
  }

  charge(part: Settlement): void {
    const used = part.usage === undefined ? 0 : part.usage.inputTokens + part.usage.outputTokens;
    if (!this.settled && used > 0) this.admitter.take(this.checks, used);
  }
}

/**
 * Checks every rate limit of the route for the caller in one backend call: all must admit, and a
 * refusal charges nothing. Token limits are charged an estimate at admission and corrected with
 * the real usage in settle (requests are not refunded, whatever the outcome).
 */
export class RateLimitAdmitter implements Admitter {
  readonly stats: RateLimitStats = { admitted: 0, refused: 0, backendErrors: 0, failedOpen: 0, failedClosed: 0, failedAdjust: 0 };
  private readonly failMode: FailMode;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: RateLimitAdmitterOptions) {
    this.failMode = opts.failMode ?? 'open';
    const takeSync = opts.backend.takeSync;
    this.admitNow = takeSync === undefined ? undefined : (request) => this.admitInMemory(request, takeSync);
  }

  get backend(): RateLimitBackend {
    return this.opts.backend;
  }

  /** Ready data-plane pods; per-pod backends enforce limit / replicas. No effect with Redis. */
  setReplicas(replicas: number): void {
    this.opts.backend.setReplicas?.(replicas);
  }

  /** Present when the backend answers in memory (the per-pod buckets): the decision without a promise. */
  readonly admitNow: ((request: AdmissionRequest) => Admission) | undefined;

  async admit(request: AdmissionRequest): Promise<Admission> {
    const checks = limitChecks(request, this.opts);
    if (checks.length === 0) return NO_LIMITS;
    const backend = this.opts.backend;
    let result: TakeResult;
    try {
      result = backend.takeSync !== undefined ? backend.takeSync(checks) : await backend.take(checks);
    } catch (err) {
      return this.unavailable(request, err);
    }
    return this.decided(request, checks, result);
  }

  private admitInMemory(request: AdmissionRequest, takeSync: (checks: readonly LimitCheck[]) => TakeResult): Admission {
    const checks = limitChecks(request, this.opts);
    if (checks.length === 0) return NO_LIMITS;
    let result: TakeResult;
    try {
      result = takeSync.call(this.opts.backend, checks);
    } catch (err) {
      return this.unavailable(request, err);
    }
    return this.decided(request, checks, result);
  }

  /** The backend failed: admitted unchecked (fail open) or refused with 503 (fail closed). */
  private unavailable(request: AdmissionRequest, err: unknown): Admission {
    this.backendFailed(err, 'take');
    if (this.failMode === 'open') {
      this.stats.failedOpen++;
      return NO_LIMITS;
    }
    this.stats.failedClosed++;
    throw new GatewayError(503, 'rate_limiter_unavailable', 'service_unavailable_error', `rate limits for route ${request.route.id} cannot be checked right now`, {
      headers: { 'retry-after': '1' },
      cause: err,
    });
  }

  private decided(request: AdmissionRequest, checks: readonly LimitCheck[], result: TakeResult): Admission {
    const headers = rateLimitHeaders(checks, result.reports);
    if (!result.admitted) {
      this.stats.refused++;
      throw refusal(request, checks, result, headers);
    }
    this.stats.admitted++;
    return new HeldLimits(headers, this, checks);
  }

  /** Resolves when every correction started by settle has reached the backend (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.idle();
    await this.opts.backend.close();
  }

  /** What settling an admission does (HeldLimits.settle, once per admission): token estimates corrected with the real usage. */
  correct(checks: readonly LimitCheck[], settlement: Settlement): void {
    const usage = settlement.usage;
    const used = usage === undefined ? 0 : usage.inputTokens + usage.outputTokens;
    let change = false;
    for (const c of checks) if (c.dimension === 'tokens' && c.cost !== used) change = true;
    if (change) this.adjust(checks, used, true);
  }

  /** Tokens charged to the token limits of an admission now (Admission.charge): a part of its usage, on top of its estimate. */
  take(checks: readonly LimitCheck[], tokens: number): void {
    this.adjust(checks, tokens, false);
  }

  /** Each token limit's bucket charged `used` tokens, less the admission's estimate when `replacesEstimate` (a positive delta refunds). */
  private adjust(checks: readonly LimitCheck[], used: number, replacesEstimate: boolean): void {
    // Counted first, so that the lists are made at their length (a list grown by push starts at 17 slots).
    let n = 0;
    for (const c of checks) if (c.dimension === 'tokens') n++;
    if (n === 0) return;
    const tokenChecks = new Array<LimitCheck>(n);
    // Positive: refund what the estimate over-charged; negative: charge the rest.
    const deltas = new Array<number>(n);
    let i = 0;
    for (const c of checks) {
      if (c.dimension !== 'tokens') continue;
      tokenChecks[i] = c;
      deltas[i] = (replacesEstimate ? c.cost : 0) - used;
      i++;
    }
    const backend = this.opts.backend;
    if (backend.adjustSync !== undefined) {
      try {
        backend.adjustSync(tokenChecks, deltas);
      } catch (err) {
        this.backendFailed(err, 'adjust');
      }
      return;
    }
    const p = backend.adjust(tokenChecks, deltas).catch((err: unknown) => this.backendFailed(err, 'adjust'));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private backendFailed(err: unknown, op: 'take' | 'adjust'): void {
    this.stats.backendErrors++;
    if (op === 'adjust') this.stats.failedAdjust++;
    this.opts.onBackendError?.(err, op);
  }
}
