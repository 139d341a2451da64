import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../config/snapshot.js';
import type { Caller } from '../core/caller.js';
import { accessDenied, mayCall } from './access.js';

const route = (apiKeyNamespaces?: string[]): RouteConfig =>
  ({
    id: 'team-a/partner-chat',
    namespace: 'team-a',
    access: { anonymous: false, namespaces: { from: 'Same' }, serviceAccounts: [], apiKeySelector: { matchLabels: { partner: 'yes' } }, ...(apiKeyNamespaces === undefined ? {} : { apiKeyNamespaces }) },
  }) as unknown as RouteConfig;

const key = (namespace: string, labels: Record<string, string>): Caller => ({ kind: 'apikey', namespace, name: 'k', labels, id: `key:${namespace}/k` });

describe('mayCall: API keys by the labels of their Secret', () => {
  it("admits matching keys of the route's namespace and of the namespaces its access names, never another namespace's labels", () => {
    const partner = { partner: 'yes' };
    expect(mayCall(key('partners', partner), route(['partners']), {})).toBe(true);
    // Any namespace can label its own Secret to match: without being named it is refused.
    expect(mayCall(key('evil', partner), route(['partners']), {})).toBe(false);
    expect(mayCall(key('partners', partner), route(), {})).toBe(false);
    expect(mayCall(key('team-a', partner), route(), {})).toBe(true);
    expect(mayCall(key('partners', { partner: 'no' }), route(['partners']), {})).toBe(false);
  });
});

describe("accessDenied: a refusal names another namespace's route to nobody", () => {
  const teamA = { ...route(), model: 'partner-chat' } as RouteConfig;
  const sa = (namespace: string): Caller => ({ kind: 'serviceaccount', namespace, name: 'app', id: `sa:${namespace}/app` });

  it('names the route to a caller of its own namespace, only the model it asked for to any other', () => {
    expect(accessDenied(sa('team-a'), teamA).message).toBe('sa:team-a/app may not use route team-a/partner-chat (model partner-chat)');
    // Before, team-b was told "route team-a/partner-chat": another tenant's namespace and route name.
    const other = accessDenied(sa('team-b'), teamA);
    expect(other.status).toBe(403);
    expect(other.message).toBe('sa:team-b/app may not use model partner-chat');
    const anonymous = accessDenied({ kind: 'anonymous', id: 'anonymous' }, teamA);
    expect(anonymous.status).toBe(401);
    expect(anonymous.message).toBe('model partner-chat requires a ServiceAccount token or an API key');
    const invalid = accessDenied({ kind: 'anonymous', id: 'anonymous', invalidCredential: 'invalid API key' }, teamA);
    expect(invalid.status).toBe(401);
    for (const e of [other, anonymous, invalid]) expect(e.message).not.toContain('team-a');
  });
});

describe('mayCall: namespaces by selector', () => {
  const selecting = (selector: Record<string, unknown>): RouteConfig =>
    ({ id: 'team-a/chat', namespace: 'team-a', access: { anonymous: false, namespaces: { from: 'Selector', selector }, serviceAccounts: [] } }) as unknown as RouteConfig;
  const sa = (namespace: string): Caller => ({ kind: 'serviceaccount', namespace, name: 'app', id: `sa:${namespace}/app` });

  // `constructor` is a valid namespace name: one the snapshot has no labels for has none, not Object.prototype's.
  it('reads a namespace the snapshot has no labels for as unlabelled, whatever its name', () => {
    const unlabelled = selecting({ matchExpressions: [{ key: 'name', operator: 'DoesNotExist' }] });
    expect(mayCall(sa('team-b'), unlabelled, {})).toBe(true);
    expect(mayCall(sa('constructor'), unlabelled, {})).toBe(true);
    expect(mayCall(sa('constructor'), selecting({ matchLabels: { name: 'Object' } }), {})).toBe(false);
  });
});
