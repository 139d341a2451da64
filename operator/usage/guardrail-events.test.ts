import { describe, expect, it } from 'vitest';
import type { UsageReport } from '../../dataplane/config/usage-report.js';
import type { KubeObject } from '../kube/kube-client.js';
import { FORGET_POD_AFTER_MS, GUARDRAIL_DECISIONS_REASON, GuardrailEvents } from './guardrail-events.js';

const policy: KubeObject = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'GuardrailPolicy', metadata: { name: 'finance', namespace: 'team-a', uid: 'u1' } };
const request = (guardrails: { policy: string; rule: string; action: 'Block' | 'Mask' | 'Monitor' | 'Allow' }[]) => ({
  namespace: 'team-a',
  outcome: 'ok' as const,
  failovers: 0,
  cacheHit: false,
  inputTokens: 1,
  outputTokens: 1,
  cachedInputTokens: 0,
  latencyMs: 1,
  guardrails,
});
const report = (pod: string, seqs: [number, Parameters<typeof request>[0]][]): UsageReport => ({
  pod,
  records: seqs.map(([seq, g]) => ({ seq, at: 0, costUsd: 0, tokens: 0, budgetIds: [], request: request(g) })),
});

function events(clock = { now: 0 }) {
  const written: { object: KubeObject; type: string; reason: string; message: string }[] = [];
  const tally = new GuardrailEvents({
    sink: { record: (object, type, reason, message) => Promise.resolve(void written.push({ object, type, reason, message })) },
    policies: () => new Map([['team-a/finance', policy]]),
    intervalMs: 30_000,
    now: () => clock.now,
  });
  return { tally, written };
}

describe('GuardrailPolicy decision Events', () => {
  it('writes one Event per policy per interval with counts per rule and action, never per request', async () => {
    const { tally, written } = events();
    const block = { policy: 'team-a/finance', rule: 'no-cards', action: 'Block' as const };
    const mask = { policy: 'team-a/finance', rule: 'mask-mail', action: 'Mask' as const };
    tally.observe(report('pod-a', [[1, [block]], [2, [mask, block]], [3, [mask]]]));
    tally.observe(report('pod-b', [[1, [mask]]]));
    await tally.flush();
    expect(written).toEqual([
      {
        object: policy,
        type: 'Warning',
        reason: GUARDRAIL_DECISIONS_REASON,
        message: 'decisions in the last 30s (Allow: a check failed open): mask-mail Mask×3; no-cards Block×2',
      },
    ]);
    await tally.flush();
    expect(written).toHaveLength(1);
  });

  it('counts a resent record once, is Normal when nothing blocked, and skips policies that no longer exist', async () => {
    const { tally, written } = events();
    const watch = { policy: 'team-a/finance', rule: 'watch', action: 'Monitor' as const };
    tally.observe(report('pod-a', [[1, [watch]], [2, [watch]]]));
    tally.observe(report('pod-a', [[2, [watch]], [3, [watch, { policy: 'team-a/gone', rule: 'x', action: 'Block' }]]]));
    await tally.flush();
    expect(written.map((w) => [w.type, w.message])).toEqual([['Normal', 'decisions in the last 30s (Allow: a check failed open): watch Monitor×3']]);
  });

  it('forgets the pods that stopped reporting (each data-plane start is a new name)', async () => {
    const clock = { now: 0 };
    const { tally } = events(clock);
    for (let i = 0; i < 50; i++) tally.observe(report(`pod-${i}`, [[1, []]]));
    clock.now = FORGET_POD_AFTER_MS / 2;
    tally.observe(report('pod-0', [[2, []]]));
    await tally.flush();
    expect(tally.podsTracked).toBe(50);
    clock.now = FORGET_POD_AFTER_MS + 1;
    await tally.flush();
    expect(tally.podsTracked).toBe(1);
  });
});
