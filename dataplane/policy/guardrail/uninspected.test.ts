import { describe, expect, it } from 'vitest';
import type { GuardrailConfig } from '../../config/guardrail-config.js';
import { dryRunUninspected, uninspectedVerdict } from './uninspected.js';

const SA = { kind: 'serviceaccount', namespace: 'team-a', name: 'app' };
const subjects = (namespaces: string[]) => ({ namespaces, serviceAccounts: [], apiKeys: [], routes: [] });
const policy = (id: string, opts: { allow?: true; action?: 'Block' | 'Mask' | 'Monitor'; namespaces?: string[] } = {}): GuardrailConfig => ({
  id,
  subjects: subjects(opts.namespaces ?? ['team-a']),
  rules: [{ name: 'cards', phase: 'Request', action: opts.action ?? 'Block', detector: { kind: 'builtin', names: ['PaymentCard'] } }],
  holdBackChars: 0,
  ...(opts.allow === undefined ? {} : { uninspectedEndpoints: 'Allow' as const }),
});

describe('uninspectedVerdict', () => {
  it('is undefined when no policy covers the caller on the route', () => {
    expect(uninspectedVerdict([policy('p/x', { namespaces: ['team-b'] })], SA, 'team-a/r', 'images')).toBeUndefined();
  });

  it('refuses under a policy that blocks or masks (Refuse by default), naming it and the endpoint', () => {
    for (const action of ['Block', 'Mask'] as const) {
      const v = uninspectedVerdict([policy('p/x', { action })], SA, 'team-a/r', 'images');
      expect(v?.refused?.status).toBe(403);
      expect(v?.refused?.code).toBe('guardrail_uninspected');
      expect(v?.refused?.message).toContain('guardrail policy p/x');
      expect(v?.decisions).toEqual([{ policy: 'p/x', rule: 'endpoint:images', phase: 'Request', action: 'Block', detector: 'uninspected' }]);
    }
  });

  it('lets through, recording Allow per policy, under Allow or a Monitor-only policy', () => {
    const v = uninspectedVerdict([policy('a/allow', { allow: true }), policy('b/watch', { action: 'Monitor' })], SA, 'team-a/r', 'files');
    expect(v?.refused).toBeUndefined();
    expect(v?.decisions.map((d) => [d.policy, d.action])).toEqual([['a/allow', 'Allow'], ['b/watch', 'Allow']]);
  });

  it('the strictest wins: an Allow in any order never lifts another policy\'s Refuse', () => {
    const platform = policy('tollgate-system/platform');
    const tenant = policy('team-a/own', { allow: true });
    for (const order of [[platform, tenant], [tenant, platform]]) {
      expect(uninspectedVerdict(order, SA, 'team-a/r', 'moderations')?.refused?.message).toContain('tollgate-system/platform');
    }
  });
});

describe('dryRunUninspected', () => {
  it("shows the route's endpoints and the refusal of the first", () => {
    expect(dryRunUninspected([policy('p/x')], SA, 'team-a/r', ['images', 'files'])).toMatchObject({ endpoints: ['images', 'files'], outcome: 'refused', refusal: { status: 403, code: 'guardrail_uninspected' } });
    expect(dryRunUninspected([policy('p/x', { allow: true })], SA, 'team-a/r', ['images'])).toEqual({ endpoints: ['images'], outcome: 'allowed' });
    expect(dryRunUninspected([policy('p/x')], SA, 'team-a/r', [])).toBeUndefined();
  });
});
