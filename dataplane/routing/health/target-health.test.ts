import { describe, expect, it } from 'vitest';
import type { OutlierDetectionConfig, TargetConfig } from '../../config/snapshot.js';
import { type HealthState, TargetHealth } from './target-health.js';

const target: TargetConfig = { providerId: 'ns/p', model: 'm', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } };
const config: OutlierDetectionConfig = { consecutiveFailures: 3, errorRateMinRequests: 4, windowMs: 10_000, baseEjectionMs: 1000, maxEjectionMs: 3000 };

function setup(c = config) {
  let now = 0;
  const states: HealthState[] = [];
  const health = new TargetHealth({ now: () => now, onState: (_p, _m, s) => states.push(s) });
  return { health, states, advance: (ms: number) => (now += ms), c };
}

describe('TargetHealth', () => {
  it('ejects after consecutive failures; a success in between resets the count', () => {
    const { health, states } = setup();
    health.failure(target, config);
    health.failure(target, config);
    health.success(target, config);
    health.failure(target, config);
    health.failure(target, config);
    expect(health.available(target, config)).toBe(true);
    health.failure(target, config);
    expect(health.available(target, config)).toBe(false);
    expect(states).toEqual(['open']);
  });

  it('half-opens after the cooldown, lets one probe through, and closes on its success', () => {
    const { health, states, advance } = setup();
    for (let i = 0; i < 3; i++) health.failure(target, config);
    advance(999);
    expect(health.available(target, config)).toBe(false);
    advance(1);
    expect(health.available(target, config)).toBe(true);
    health.begin(target, config);
    expect(health.available(target, config)).toBe(false); // the probe is in flight
    health.success(target, config);
    expect(health.available(target, config)).toBe(true);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('doubles the cooldown on repeated ejection, up to the maximum', () => {
    const { health, advance } = setup();
    for (let i = 0; i < 3; i++) health.failure(target, config);
    expect(health.view(target).ejectedForMs).toBe(1000);
    advance(1000);
    health.begin(target, config);
    health.failure(target, config); // the probe fails
    expect(health.view(target)).toMatchObject({ state: 'open', ejections: 2, ejectedForMs: 2000 });
    advance(2000);
    health.begin(target, config);
    health.failure(target, config);
    expect(health.view(target)).toMatchObject({ state: 'open', ejections: 3, ejectedForMs: 3000 });
  });

  it('ejects on the error rate in a window once it holds enough attempts', () => {
    const c: OutlierDetectionConfig = { ...config, consecutiveFailures: 100, errorRateThreshold: 0.5 };
    const { health } = setup(c);
    health.success(target, c); // creates nothing: a healthy target has no entry until it fails
    health.failure(target, c);
    health.success(target, c);
    health.failure(target, c);
    expect(health.available(target, c)).toBe(true); // 2 of 3 attempts counted (the first success came before any entry)
    health.failure(target, c);
    expect(health.available(target, c)).toBe(false); // 3 failures of 4
  });

  it('does nothing for a provider without outlierDetection', () => {
    const { health } = setup();
    for (let i = 0; i < 10; i++) health.failure(target, undefined);
    expect(health.available(target, undefined)).toBe(true);
    expect(health.view(target).state).toBe('closed');
  });
});
