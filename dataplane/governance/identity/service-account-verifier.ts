import { GatewayError } from '../../core/gateway-error.js';
import type { Caller } from '../../core/caller.js';
import { precheckJwt } from './jwt-precheck.js';
import type { ReviewResult, TokenReviewer } from './token-reviewer.js';

const SA_PREFIX = 'system:serviceaccount:';

/** Defaults of the limits below; docs/security.md lists them. */
export const REVIEW_DEFAULTS = {
  cacheTtlMs: 60_000,
  maxCacheEntries: 10_000,
  refusalTtlMs: 10_000,
  maxRefusalEntries: 10_000,
  maxConcurrentReviews: 8,
  maxQueuedReviews: 256,
} as const;

export interface VerifierOptions {
  reviewer: TokenReviewer;
  audience: string;
  /** Longest a positive TokenReview is trusted (also bounded by the token's own expiry). */
  cacheTtlMs?: number;
  maxCacheEntries?: number;
  /** How long a refused token is refused without asking again. */
  refusalTtlMs?: number;
  maxRefusalEntries?: number;
  /** TokenReviews in flight at once; identical tokens share one review. */
  maxConcurrentReviews?: number;
  /** Reviews waiting for a slot; beyond this a request gets 503 at once. */
  maxQueuedReviews?: number;
  now?: () => number;
  /** Told why a review failed (for the log). */
  onReviewError?: (err: unknown) => void;
}

export type Verdict = { ok: true; caller: Caller } | { ok: false; reason: string };

interface Entry {
  verdict: Verdict;
  expiresAt: number;
}

/** A Map used as a bounded cache with expiry; the oldest insertion goes first when full. */
class ExpiringCache {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly max: number) {}

  get(key: string, now: number): Verdict | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt > now) return hit.verdict;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, verdict: Verdict, expiresAt: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { verdict, expiresAt });
  }
}

function verdictOf(result: ReviewResult, audience: string): Verdict {
  // The API server's reason may name accounts and addresses: the client gets the verdict only.
  if (!result.authenticated) return { ok: false, reason: 'ServiceAccount token refused' };
  if (!result.audiences.includes(audience)) return { ok: false, reason: `token is not for audience ${audience}` };
  if (!result.username.startsWith(SA_PREFIX)) return { ok: false, reason: 'only ServiceAccount tokens are accepted' };
  const [namespace, name] = result.username.slice(SA_PREFIX.length).split(':');
  if (namespace === undefined || name === undefined) return { ok: false, reason: 'malformed ServiceAccount username' };
  return { ok: true, caller: { kind: 'serviceaccount', namespace, name, id: `sa:${namespace}/${name}` } };
}

/**
 * Verifies ServiceAccount bearer tokens with TokenReview without letting callers drive the API
 * server: tokens that cannot pass (malformed, wrong audience, expired) are refused locally, results
 * are cached (accepted ones for at most their lifetime, refusals briefly), identical tokens in
 * flight share one review, and at most maxConcurrentReviews run at once with a bounded queue.
 */
export class ServiceAccountVerifier {
  private readonly accepted: ExpiringCache;
  private readonly refused: ExpiringCache;
  private readonly inflight = new Map<string, Promise<Verdict>>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private readonly now: () => number;
  private readonly limits: Required<Omit<VerifierOptions, 'reviewer' | 'audience' | 'now' | 'onReviewError'>>;

  constructor(private readonly opts: VerifierOptions) {
    this.now = opts.now ?? Date.now;
    this.limits = {
      cacheTtlMs: opts.cacheTtlMs ?? REVIEW_DEFAULTS.cacheTtlMs,
      maxCacheEntries: opts.maxCacheEntries ?? REVIEW_DEFAULTS.maxCacheEntries,
      refusalTtlMs: opts.refusalTtlMs ?? REVIEW_DEFAULTS.refusalTtlMs,
      maxRefusalEntries: opts.maxRefusalEntries ?? REVIEW_DEFAULTS.maxRefusalEntries,
      maxConcurrentReviews: opts.maxConcurrentReviews ?? REVIEW_DEFAULTS.maxConcurrentReviews,
      maxQueuedReviews: opts.maxQueuedReviews ?? REVIEW_DEFAULTS.maxQueuedReviews,
    };
    this.accepted = new ExpiringCache(this.limits.maxCacheEntries);
    this.refused = new ExpiringCache(this.limits.maxRefusalEntries);
  }

  /** `key`: a digest of the token, so that no cache holds a token itself. Throws a 503 GatewayError when the API server cannot answer now. */
  async verify(token: string, key: string): Promise<Verdict> {
    const now = this.now();
    const cached = this.accepted.get(key, now) ?? this.refused.get(key, now);
    if (cached !== undefined) return cached;
    const local = precheckJwt(token, this.opts.audience, now);
    if (!local.ok) return { ok: false, reason: local.reason };
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.review(token, key, local.expiresAtMs).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async review(token: string, key: string, expiresAtMs: number | undefined): Promise<Verdict> {
    await this.slot();
    let result: ReviewResult;
    try {
      result = await this.opts.reviewer.review(token, this.opts.audience);
    } catch (err) {
      // Not cached: the next request asks again. The reviewer's error names the API server and the
      // gateway's own ServiceAccount: it goes to the log, the client learns only that it may retry.
      this.opts.onReviewError?.(err);
      throw new GatewayError(503, 'auth_unavailable', 'service_unavailable_error', 'cannot verify the token now; retry shortly', {
        headers: { 'retry-after': '1' },
        cause: err,
      });
    } finally {
      this.release();
    }
    const verdict = verdictOf(result, this.opts.audience);
    const now = this.now();
    if (verdict.ok) this.accepted.set(key, verdict, Math.min(now + this.limits.cacheTtlMs, expiresAtMs ?? Number.POSITIVE_INFINITY));
    else this.refused.set(key, verdict, now + this.limits.refusalTtlMs);
    return verdict;
  }

  private async slot(): Promise<void> {
    if (this.active < this.limits.maxConcurrentReviews) {
      this.active++;
      return;
    }
    if (this.waiting.length >= this.limits.maxQueuedReviews) {
      throw new GatewayError(503, 'auth_overloaded', 'service_unavailable_error', 'too many tokens waiting for verification; retry shortly', {
        headers: { 'retry-after': '1' },
      });
    }
    // release() hands its slot over directly, so `active` stays counted.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}
