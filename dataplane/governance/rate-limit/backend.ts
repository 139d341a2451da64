/** What one bucket counts. */
export type LimitDimension = 'requests' | 'tokens';

/** One bucket a request must pay into; built by limitChecks() from the route's rate limits. */
export interface LimitCheck {
  /** Stable bucket identity (without any backend prefix). */
  key: string;
  dimension: LimitDimension;
  /** The configured cluster-wide limit per minute. Backends apply their own share of it. */
  limit: number;
  /** Requests: 1. Tokens: the estimate charged at admission. */
  cost: number;
  /** For messages: "100 requests per minute per caller". */
  description: string;
}

/** The state of one bucket after a take, in cluster-wide terms. */
export interface BucketReport {
  /** Whole tokens left (estimated cluster-wide for the per-pod backend), 0 when in debt. */
  remaining: number;
  /** How long until this bucket would admit the same cost; 0 unless it refused. */
  waitMs: number;
  /** How long until the bucket is full again. */
  resetMs: number;
}

export interface TakeResult {
  /** True when every bucket admitted and all were charged; false when none was charged. */
  admitted: boolean;
  /** One per check, same order. */
  reports: BucketReport[];
}

/**
 * Where buckets live. `take` is all-or-nothing over the checks of one request; `adjust` adds
 * `deltas[i]` tokens to bucket i (negative to charge more), clamped at the bucket's capacity.
 */
export interface RateLimitBackend {
  readonly kind: 'local' | 'redis';
  take(checks: readonly LimitCheck[]): Promise<TakeResult>;
  adjust(checks: readonly LimitCheck[], deltas: readonly number[]): Promise<void>;
  /** `take` without a promise, for a backend that answers in memory (the admitter prefers it). */
  takeSync?(checks: readonly LimitCheck[]): TakeResult;
  /** `adjust` without a promise, for a backend that answers in memory. */
  adjustSync?(checks: readonly LimitCheck[], deltas: readonly number[]): void;
  /** Per-pod backends enforce limit / replicas; cluster-wide backends ignore it. */
  setReplicas?(replicas: number): void;
  close(): Promise<void>;
}
