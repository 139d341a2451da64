/**
 * Token-bucket arithmetic shared by the per-pod backend and (mirrored in Lua) the Redis backend.
 *
 * A limit of L per minute is a bucket that holds at most `capacity` tokens and refills at
 * `capacity` per minute (so an idle caller may burst a full minute's worth at once). A request
 * needs its cost in the bucket, except that a request costing more than the whole bucket is let
 * through when the bucket is full, so that no request is refused forever. Corrections after the
 * response may drive a bucket below zero (debt): then nothing is admitted until it has refilled.
 */
export const WINDOW_MS = 60_000;

export interface BucketState {
  /** Tokens at `updatedMs`; may be negative after a correction. */
  tokens: number;
  updatedMs: number;
}

/** Tokens in the bucket at `nowMs`; an unknown bucket is full. */
export function tokensAt(state: BucketState | undefined, capacity: number, nowMs: number): number {
  if (state === undefined) return capacity;
  const elapsed = Math.max(0, nowMs - state.updatedMs);
  return Math.min(capacity, state.tokens + (elapsed * capacity) / WINDOW_MS);
}

/** What a request of `cost` must find in the bucket. */
export function tokensNeeded(cost: number, capacity: number): number {
  return Math.min(cost, capacity);
}

/** Milliseconds until `tokens` refill to `target` (0 when already there). */
export function msUntil(tokens: number, target: number, capacity: number): number {
  if (tokens >= target) return 0;
  return Math.ceil(((target - tokens) * WINDOW_MS) / capacity);
}

/** Milliseconds until a request of `cost` would be admitted, given no other traffic. */
export function waitMs(tokens: number, cost: number, capacity: number): number {
  return msUntil(tokens, tokensNeeded(cost, capacity), capacity);
}

/** Milliseconds until the bucket is full again (OpenAI's x-ratelimit-reset-*). */
export function resetMs(tokens: number, capacity: number): number {
  return msUntil(tokens, capacity, capacity);
}
