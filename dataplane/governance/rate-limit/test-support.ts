import type { RateLimitConfig, RouteConfig } from '../../config/snapshot.js';
import type { AdmissionRequest } from '../types.js';
import type { Caller } from '../../core/caller.js';

/** A minimal route for rate-limit and cache tests. */
export function testRoute(rateLimits: RateLimitConfig[], extra: Partial<RouteConfig> = {}): RouteConfig {
  return {
    id: 'team-a/chat',
    namespace: 'team-a',
    model: 'chat',
    created: 0,
    matches: [],
    strategy: 'failover',
    targets: [{ providerId: 'team-a/self-hosted', model: 'llama', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } }],
    unresolved: [],
    retry: { attempts: 1, on: [], initialBackoffMs: 0, maxBackoffMs: 0, maxRetryAfterMs: 0 },
    fallbackOn: [],
    timeouts: { totalMs: 1000, streamIdleMs: 1000 },
    access: { anonymous: true, namespaces: { from: 'Same' }, serviceAccounts: [] },
    rateLimits,
    ...extra,
  };
}

export function caller(name: string): Caller {
  return { kind: 'serviceaccount', namespace: 'team-a', name, id: `sa:team-a/${name}` };
}

export function admission(route: RouteConfig, who: Caller, promptTokens = 10, maxOutputTokens = 100): AdmissionRequest {
  return {
    caller: who,
    route,
    req: { op: 'chat', body: { model: route.model, messages: [{ role: 'user', content: 'hi' }] }, stream: false, clientWantsUsage: false },
    promptTokens,
    maxOutputTokens,
    budgets: [],
  };
}

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public ms = 1_000_000) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}
