// Fixtures shared by the budget admitters' tests (reported ledger and exact Redis mode).
import type { BudgetConfig, RouteConfig } from '../../config/snapshot.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import type { Caller } from '../../core/caller.js';

export const testBudget = (over: Partial<BudgetConfig> = {}): BudgetConfig => ({
  id: 'team-a/b',
  unit: 'USD',
  amount: 1,
  period: 'Day',
  timeZone: 'UTC',
  subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
  action: { type: 'Reject', cutStreams: false },
  thresholds: [100],
  ...over,
});

/** $1000 per million tokens both ways: 100 prompt + 300 output tokens cost at most $0.40. */
export const testRoute = {
  id: 'team-a/r',
  model: 'm',
  targets: [{ providerId: 'x/p', model: 'u', priority: 0, weight: 1, pricing: { inputPerMTok: 1000, outputPerMTok: 1000, cachedInputPerMTok: 0 } }],
} as unknown as RouteConfig;

export const testCaller: Caller = { kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' };
export const testRequest = { op: 'chat', body: {}, stream: false, clientWantsUsage: false } as CanonicalRequest;
