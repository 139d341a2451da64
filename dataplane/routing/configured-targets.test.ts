import { describe, expect, it } from 'vitest';
import type { OutlierDetectionConfig, RouteConfig, TargetConfig } from '../config/snapshot.js';
import { configuredTargets, targetKey } from './configured-targets.js';
import { TargetHealth } from './health/target-health.js';
import { TargetStats } from './target-stats.js';

const target = (providerId: string, model: string): TargetConfig => ({ providerId, model, priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } });
const kept = target('ns/p', 'm');
const renamed = target('ns/p', 'm-old');
const outlier: OutlierDetectionConfig = { consecutiveFailures: 1, errorRateMinRequests: 100, windowMs: 10_000, baseEjectionMs: 60_000, maxEjectionMs: 60_000 };

describe('per-target state of targets no snapshot has', () => {
  it('configuredTargets lists the targets of every route once', () => {
    const routes = [{ targets: [kept, target('ns/q', 'n')] }, { targets: [kept] }] as unknown as RouteConfig[];
    expect([...configuredTargets({ routes })]).toEqual([targetKey(kept), targetKey(target('ns/q', 'n'))]);
  });

  it("TargetStats forgets a removed target's latency and load, but not one with an attempt in flight", () => {
    const stats = new TargetStats();
    stats.observeLatency(kept, 100);
    stats.observeLatency(renamed, 200);
    const end = stats.start(renamed);
    stats.retainOnly(new Set([targetKey(kept)]));
    // In flight: still counted until it ends.
    expect(stats.inflight(renamed)).toBe(1);
    end();
    stats.retainOnly(new Set([targetKey(kept)]));
    expect(stats.latency(renamed)).toBeUndefined();
    expect(stats.measuredSeq(renamed)).toBe(0);
    expect(stats.latency(kept)).toBe(100);
  });

  it("TargetHealth forgets a removed target's ejection; the configured ones keep theirs", () => {
    const reported: string[] = [];
    const health = new TargetHealth({ onState: (provider, model, state) => reported.push(`${provider} ${model} ${state}`) });
    health.failure(kept, outlier);
    health.failure(renamed, outlier);
    expect(health.view(renamed).state).toBe('open');
    health.retainOnly(new Set([targetKey(kept)]));
    expect(health.view(renamed)).toEqual({ state: 'closed', ejections: 0 });
    expect(health.view(kept).state).toBe('open');
    // The circuit gauge hears it closed: configured again, the target must not show the old ejection.
    expect(reported).toEqual(['ns/p m open', 'ns/p m-old open', 'ns/p m-old closed']);
  });
});
