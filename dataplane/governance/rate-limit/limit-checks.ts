import type { RateLimitConfig, RouteConfig } from '../../config/snapshot.js';
import { ANONYMOUS } from '../../core/caller.js';
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
 * Anonymous callers are one caller per namespace of the route: every caller nobody can name has the
 * same id, and one namespace's open route must not use up another namespace's Caller limit.
 */
function scopeKey(limit: RateLimitConfig, route: RouteConfig, callerId: string): string {
  switch (limit.per) {
    case 'Route':
      return `route=${route.id}`;
    case 'RouteAndCaller':
      return `route=${route.id}|caller=${callerId}`;
    case 'Caller': {
      const who = callerId === ANONYMOUS.id ? `${callerId}|ns=${route.namespace}` : callerId;
      return `caller=${who}|rpm=${limit.requestsPerMinute ?? 0}|tpm=${limit.tokensPerMinute ?? 0}`;
    }
  }
}

/** The token cost charged at admission. */
export function admissionTokens(request: AdmissionRequest, policy: TokenCountPolicy = {}): number {
  const prompt = Math.max(0, Math.ceil(request.promptTokens));
  return policy.countMaxOutputTokens === true ? prompt + Math.max(0, Math.ceil(request.maxOutputTokens)) : prompt;
}

/** A check without its cost: what a route's limits make of one caller, the same for every request. */
interface CheckTemplate {
  readonly key: string;
  readonly dimension: LimitCheck['dimension'];
  readonly limit: number;
  readonly description: string;
  /** A requests check costs 1 on every request: the same check object serves them all (nothing changes a check). */
  readonly requestCheck: LimitCheck | undefined;
}

/** Callers whose templates one route keeps; beyond this the route starts over (a full recompute, no lost state). */
const MAX_CALLERS_PER_ROUTE = 4096;

/**
 * Templates per route object and caller id. A new snapshot brings new route objects, so a changed
 * limit is never served from here; the keys are built once, so a bucket lookup hashes a string
 * that already knows its hash.
 */
const templates = new WeakMap<RouteConfig, Map<string, readonly CheckTemplate[]>>();

function compile(route: RouteConfig, callerId: string): readonly CheckTemplate[] {
  const checks = new Map<string, CheckTemplate>();
  for (const limit of route.rateLimits ?? []) {
    const scope = scopeKey(limit, route, callerId);
    const per = PER_TEXT[limit.per];
    if (limit.requestsPerMinute !== undefined) {
      const key = `req|${scope}|${limit.requestsPerMinute}`;
      const description = `${limit.requestsPerMinute} requests per minute ${per}`;
      const requestCheck: LimitCheck = { key, dimension: 'requests', limit: limit.requestsPerMinute, cost: 1, description };
      checks.set(key, { key, dimension: 'requests', limit: limit.requestsPerMinute, description, requestCheck });
    }
    if (limit.tokensPerMinute !== undefined) {
      const key = `tok|${scope}|${limit.tokensPerMinute}`;
      checks.set(key, { key, dimension: 'tokens', limit: limit.tokensPerMinute, description: `${limit.tokensPerMinute} tokens per minute ${per}`, requestCheck: undefined });
    }
  }
  return [...checks.values()];
}

function templatesFor(route: RouteConfig, callerId: string): readonly CheckTemplate[] {
  let byCaller = templates.get(route);
  if (byCaller === undefined) {
    byCaller = new Map();
    templates.set(route, byCaller);
  }
  let found = byCaller.get(callerId);
  if (found === undefined) {
    if (byCaller.size >= MAX_CALLERS_PER_ROUTE) byCaller.clear();
    found = compile(route, callerId);
    byCaller.set(callerId, found);
  }
  return found;
}

/** Every bucket the request must pay into, deduplicated by key. */
export function limitChecks(request: AdmissionRequest, policy: TokenCountPolicy = {}): LimitCheck[] {
  const route = request.route;
  if (route.rateLimits === undefined || route.rateLimits.length === 0) return [];
  const found = templatesFor(route, request.caller.id);
  if (found.length === 0) return [];
  const tokens = admissionTokens(request, policy);
  // Made at its length: a list grown by push starts at 17 slots.
  const checks = new Array<LimitCheck>(found.length);
  for (let i = 0; i < found.length; i++) {
    const t = found[i] as CheckTemplate;
    checks[i] = t.requestCheck ?? { key: t.key, dimension: t.dimension, limit: t.limit, cost: tokens, description: t.description };
  }
  return checks;
}
