import { describe, expect, it } from 'vitest';
import type { RouteConfig, Snapshot } from '../config/snapshot.js';
import { ANONYMOUS, type Caller } from '../core/caller.js';
import type { HeaderLookup } from '../runtime/rule-matcher.js';
import type { RuntimeRoute } from '../runtime/runtime-snapshot.js';
import { mayCall } from './access.js';
import { type Selection, selectRoute } from './route-selection.js';

/** selectRoute as it was written with filter and find (the reference the one-pass version must equal). */
function reference(candidates: readonly RuntimeRoute[] | undefined, caller: Caller, header: HeaderLookup, namespaces: Snapshot['namespaces'], checkAccess: boolean): Selection {
  const matching = (candidates ?? []).filter((r) => r.matches(header));
  const first = matching[0];
  if (first === undefined) return undefined;
  if (!checkAccess) return { route: first };
  const admitting = matching.filter((r) => mayCall(caller, r.config, namespaces));
  const own = admitting.find((r) => r.config.namespace === caller.namespace);
  const chosen = own ?? admitting[0];
  if (chosen !== undefined) return { route: chosen };
  return { denied: matching.find((r) => r.config.namespace === caller.namespace) ?? first };
}

interface Variant {
  namespace: 'a' | 'b';
  matches: boolean;
  /** open: anyone; same: callers of its namespace; closed: nobody (a selector no namespace matches). */
  access: 'open' | 'same' | 'closed';
}

const ACCESS = {
  open: { anonymous: true, namespaces: { from: 'Same' }, serviceAccounts: [] },
  same: { anonymous: false, namespaces: { from: 'Same' }, serviceAccounts: [] },
  closed: { anonymous: false, namespaces: { from: 'Selector', selector: { matchLabels: { never: 'x' } } }, serviceAccounts: [] },
};

const VARIANTS: Variant[] = [];
for (const namespace of ['a', 'b'] as const) for (const matches of [true, false]) for (const access of ['open', 'same', 'closed'] as const) VARIANTS.push({ namespace, matches, access });

function route(v: Variant, i: number): RuntimeRoute {
  const config = { id: `${v.namespace}/r${i}`, namespace: v.namespace, access: ACCESS[v.access] } as unknown as RouteConfig;
  return { config, matches: () => v.matches } as unknown as RuntimeRoute;
}

/** Every list of up to three routes built from the variants. */
function* lists(): Generator<RuntimeRoute[]> {
  yield [];
  for (const a of VARIANTS) {
    yield [route(a, 0)];
    for (const b of VARIANTS) {
      yield [route(a, 0), route(b, 1)];
      for (const c of VARIANTS) yield [route(a, 0), route(b, 1), route(c, 2)];
    }
  }
}

const callers: Caller[] = [
  ANONYMOUS,
  { kind: 'serviceaccount', namespace: 'a', name: 'app', id: 'sa:a/app' },
];

describe('selectRoute', () => {
  it('chooses (or refuses with) the same route as the filter-and-find version, for every list of up to three routes', () => {
    const seen = new Set<string>();
    let cases = 0;
    for (const caller of callers) {
      for (const checkAccess of [true, false]) {
        expect(selectRoute(undefined, caller, () => undefined, {}, checkAccess)).toBeUndefined();
        for (const list of lists()) {
          const got = selectRoute(list, caller, () => undefined, {}, checkAccess);
          expect(got).toEqual(reference(list, caller, () => undefined, {}, checkAccess));
          seen.add(got === undefined ? 'none' : 'route' in got ? 'route' : 'denied');
          cases++;
        }
      }
    }
    expect(cases).toBe(4 * (1 + 12 + 144 + 1728));
    expect([...seen].sort()).toEqual(['denied', 'none', 'route']);
  });
});
