import { describe, expect, it } from 'vitest';
import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import { selectPolicy } from './select-policy.js';

function policy(id: string, subjects: Partial<DataPolicyConfig['subjects']>, platform?: boolean): DataPolicyConfig {
  return {
    id,
    subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: [], ...subjects },
    mode: 'Full',
    sampleRate: 1,
    parts: { request: true, response: true },
    maxRecordBytes: 1024,
    allowOptOut: false,
    redaction: { detectors: [], customPatterns: [] },
    retention: {},
    destinations: [],
    ...(platform === undefined ? {} : { platform }),
  };
}

describe('selectPolicy', () => {
  const audit = policy('tollgate-system/audit', { namespaces: ['team-b'] }, true);
  const key: Caller = { kind: 'apikey', namespace: 'team-b', name: 'k', id: 'key:team-b/k' };

  it("governs an anonymous caller on a tenant's route by the platform's policy on that namespace", () => {
    expect(selectPolicy([audit], key, 'team-b/chat')?.id).toBe('tollgate-system/audit');
    // Before, an anonymous caller (no credential, or one that did not verify) had no namespace: nothing was recorded.
    expect(selectPolicy([audit], ANONYMOUS, 'team-b/chat')?.id).toBe('tollgate-system/audit');
    expect(selectPolicy([audit], { ...ANONYMOUS, invalidCredential: 'unknown key' }, 'team-b/chat')?.id).toBe('tollgate-system/audit');
  });

  it("counts an anonymous caller as the route's namespace only", () => {
    expect(selectPolicy([audit], ANONYMOUS, 'team-a/chat')).toBeUndefined();
    expect(selectPolicy([audit], ANONYMOUS, undefined)).toBeUndefined();
  });

  it("keeps the platform first for anonymous callers: a tenant's route policy cannot switch the audit off", () => {
    const off = { ...policy('team-b/off', { routes: ['team-b/chat'] }), mode: 'None' as const };
    expect(selectPolicy([off, audit], ANONYMOUS, 'team-b/chat')?.id).toBe('tollgate-system/audit');
  });
});
