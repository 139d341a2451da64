import { describe, expect, it } from 'vitest';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import { retryDelayMs } from './backoff.js';
import { orderTargets } from './strategies.js';
import { TargetStats } from './target-stats.js';

const pricing = { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 };
const t = (model: string, extra: Partial<TargetConfig> = {}): TargetConfig => ({ providerId: 'ns/p', model, priority: 0, weight: 1, pricing, ...extra });
const routeWith = (strategy: RouteConfig['strategy'], targets: TargetConfig[]): RouteConfig => ({
  id: 'ns/r', namespace: 'ns', model: 'm', created: 0, matches: [], strategy, targets, unresolved: [],
  retry: { attempts: 2, on: ['ServerError'], initialBackoffMs: 100, maxBackoffMs: 1000, maxRetryAfterMs: 5000 },
  fallbackOn: ['ServerError'], timeouts: { totalMs: 1000, streamIdleMs: 1000 },
  access: { anonymous: true, namespaces: { from: 'Same' }, serviceAccounts: [] },
});

/** A seeded generator so that statistical assertions are reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('strategies', () => {
  it('failover orders by priority, stable for ties', () => {
    const r = routeWith('failover', [t('c', { priority: 2 }), t('a', { priority: 0 }), t('b', { priority: 0 })]);
    expect(orderTargets(r, new TargetStats()).map((x) => x.model)).toEqual(['a', 'b', 'c']);
  });

  it('weighted picks the first target in proportion to the weights and keeps the rest as fallbacks', () => {
    const r = routeWith('weighted', [t('a', { weight: 80 }), t('b', { weight: 20 }), t('z', { weight: 0 })]);
    const random = seeded(42);
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 10_000; i++) {
      const order = orderTargets(r, new TargetStats(), random);
      counts[order[0]?.model as 'a' | 'b']++;
      expect(order).toHaveLength(3);
      expect(order[2]?.model).toBe('z');
    }
    expect(counts.a / 10_000).toBeGreaterThan(0.77);
    expect(counts.a / 10_000).toBeLessThan(0.83);
  });

  it('least-cost, least-loaded and least-latency order by their signal', () => {
    const cheap = t('cheap', { pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4, cachedInputPerMTok: 0.1 } });
    const dear = t('dear', { pricing: { inputPerMTok: 5, outputPerMTok: 15, cachedInputPerMTok: 5 } });
    expect(orderTargets(routeWith('least-cost', [dear, cheap]), new TargetStats()).map((x) => x.model)).toEqual(['cheap', 'dear']);

    const stats = new TargetStats();
    const busy = t('busy');
    const idle = t('idle');
    stats.start(busy);
    expect(orderTargets(routeWith('least-loaded', [busy, idle]), stats).map((x) => x.model)).toEqual(['idle', 'busy']);

    stats.observeLatency(busy, 500);
    stats.observeLatency(idle, 50);
    const fresh = t('fresh');
    expect(orderTargets(routeWith('least-latency', [busy, idle, fresh]), stats).map((x) => x.model)).toEqual(['fresh', 'idle', 'busy']);
  });

  it('counts in-flight attempts per target and provider, and ends each once', () => {
    const stats = new TargetStats();
    const end = stats.start(t('a'));
    stats.start(t('b'));
    expect(stats.providerInflight('ns/p')).toBe(2);
    end();
    end();
    expect(stats.inflight(t('a'))).toBe(0);
    expect(stats.providerInflight('ns/p')).toBe(1);
  });
});

describe('retryDelayMs', () => {
  const policy = routeWith('failover', []).retry;
  it('uses full jitter under an exponential ceiling', () => {
    expect(retryDelayMs(1, policy, undefined, () => 0.999)).toBe(100);
    expect(retryDelayMs(3, policy, undefined, () => 0.5)).toBe(200);
    expect(retryDelayMs(10, policy, undefined, () => 0.999)).toBe(999);
    expect(retryDelayMs(2, policy, undefined, () => 0)).toBe(0);
  });

  it('honours retry-after up to maxRetryAfter, and gives up beyond it', () => {
    expect(retryDelayMs(1, policy, 1500, () => 0.5)).toBe(1500);
    expect(retryDelayMs(1, policy, 60_000, () => 0.5)).toBeUndefined();
  });
});
