/**
 * Max-min fair shares of `budget` among demands: every demand under the equal share gets all it
 * asks for, and what it leaves is split among the rest. Deterministic (ties in key order); at most
 * one unit per demand is left unused by rounding down.
 */
export function fairShares<K>(demands: ReadonlyMap<K, number>, budget: number): Map<K, number> {
  const order = [...demands].sort((a, b) => a[1] - b[1]);
  const shares = new Map<K, number>();
  let left = budget;
  for (const [i, [key, demand]] of order.entries()) {
    const share = Math.min(demand, Math.floor(left / (order.length - i)));
    shares.set(key, share);
    left -= share;
  }
  return shares;
}

/** The namespace of a `namespace/name` id. */
function namespaceOf(id: string): string {
  const slash = id.indexOf('/');
  return slash < 0 ? '' : id.slice(0, slash);
}

/**
 * How many of its pods each provider may have tracked, out of `budget`: split fairly among
 * namespaces first (a tenant does not gain by writing more Providers), then among each
 * namespace's providers. `pods` is each provider's number of distinct pods.
 */
export function trackedShares(pods: ReadonlyMap<string, number>, budget: number): Map<string, number> {
  const byNamespace = new Map<string, Map<string, number>>();
  for (const [id, n] of pods) {
    const ns = namespaceOf(id);
    let m = byNamespace.get(ns);
    if (m === undefined) {
      m = new Map();
      byNamespace.set(ns, m);
    }
    m.set(id, n);
  }
  const demands = new Map([...byNamespace].map(([ns, m]) => [ns, [...m.values()].reduce((a, b) => a + b, 0)]));
  const out = new Map<string, number>();
  for (const [ns, share] of fairShares(demands, budget)) {
    for (const [id, n] of fairShares(byNamespace.get(ns) ?? new Map<string, number>(), share)) out.set(id, n);
  }
  return out;
}
