import type { RateLimitConfig } from '../../config/snapshot.js';
import type { AdmissionRequest } from '../types.js';
import type { LimitCheck } from './backend.js';

export interface TokenCountPolicy {
  /**
   * false (default): tokens are charged the prompt estimate at admission and corrected by the
   * real prompt + completion tokens in settle. true: charge prompt estimate + maxOutputTokens
   * (OpenAI's way: pessimistic, refunds the unused part in settle; few concurrent long answers).
   */
  countMaxOutputTokens?: boolean;
}

const PER_TEXT: Record<RateLimitConfig['per'], string> = {
  Route: 'for the route',
  Caller: 'per caller',
  RouteAndCaller: 'per caller on this route',
};

/**
 * The bucket of one limit. Route: one bucket for everyone on the route. RouteAndCaller: one per
 * caller on the route. Caller: one per caller across every route that declares the same Caller
 * limit (the numbers are part of the key, so routes with different Caller limits never share).
 */
function scopeKey(limit: RateLimitConfig, routeId: string, callerId: string): string {
  switch (limit.per) {
    case 'Route':
      return `route=${routeId}`;
    case 'RouteAndCaller':
      return `route=${routeId}|caller=${callerId}`;
    case 'Caller':
      return `caller=${callerId}|rpm=${limit.requestsPerMinute ?? 0}|tpm=${limit.tokensPerMinute ?? 0}`;
  }
}

/** The token cost charged at admission. */
export function admissionTokens(request: AdmissionRequest, policy: TokenCountPolicy = {}): number {
  const prompt = Math.max(0, Math.ceil(request.promptTokens));
  return policy.countMaxOutputTokens === true ? prompt + Math.max(0, Math.ceil(request.maxOutputTokens)) : prompt;
}

/** Every bucket the request must pay into, deduplicated by key. */
export function limitChecks(request: AdmissionRequest, policy: TokenCountPolicy = {}): LimitCheck[] {
  const limits = request.route.rateLimits ?? [];
  const checks = new Map<string, LimitCheck>();
  const tokens = admissionTokens(request, policy);
  for (const limit of limits) {
    const scope = scopeKey(limit, request.route.id, request.caller.id);
    const per = PER_TEXT[limit.per];
    if (limit.requestsPerMinute !== undefined) {
      const key = `req|${scope}|${limit.requestsPerMinute}`;
      checks.set(key, { key, dimension: 'requests', limit: limit.requestsPerMinute, cost: 1, description: `${limit.requestsPerMinute} requests per minute ${per}` });
    }
    if (limit.tokensPerMinute !== undefined) {
      const key = `tok|${scope}|${limit.tokensPerMinute}`;
      checks.set(key, { key, dimension: 'tokens', limit: limit.tokensPerMinute, cost: tokens, description: `${limit.tokensPerMinute} tokens per minute ${per}` });
    }
  }
  return [...checks.values()];
}
