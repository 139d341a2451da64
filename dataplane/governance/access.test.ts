import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../config/snapshot.js';
import type { Caller } from '../core/caller.js';
import { mayCall } from './access.js';

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
