import { SNAPSHOT_BODY_LIMIT } from '../../dataplane/config/channel-answers.js';
import { condition } from './conditions.js';
import type { ObjectKind, ObjectStatus } from './types.js';

/**
 * The bytes compile keeps a snapshot within: what a data plane accepts in one push, less a margin for
 * what is measured loosely here (credentials are revealed on the wire, redacted in this measure).
 */
export const SNAPSHOT_BUDGET_BYTES = SNAPSHOT_BODY_LIMIT - 2 * 2 ** 20;

/** What the snapshot carries for one object: the CRD kinds, and API keys (labelled Secrets). */
export type SnapshotObjectKind = ObjectKind | 'Secret';

/** One object's entry in the snapshot and its size. */
export interface SizedObject {
  kind: SnapshotObjectKind;
  namespace: string;
  name: string;
  bytes: number;
}

export interface SnapshotFit {
  /** Objects left out, by sizedKey, each with why (the message of its SnapshotTooLarge condition). */
  refused: Map<string, string>;
  /** Set when even every tenant's object left out would not make the snapshot fit: then none is. */
  oversize?: string;
}

export const sizedKey = (kind: SnapshotObjectKind, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;

export const entryBytes = (entry: unknown): number => (entry === undefined ? 0 : Buffer.byteLength(JSON.stringify(entry)));

/** A snapshot entry's id ("namespace/name") split. */
export function splitId(id: string): { namespace: string; name: string } {
  const slash = Math.max(0, id.indexOf('/'));
  return { namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}

function size(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

interface Namespace {
  name: string;
  bytes: number;
  /** Largest first. */
  objects: SizedObject[];
  next: number;
}

/** `a` pays before `b`: more bytes, then the name (a deterministic order). */
const paysFirst = (a: Namespace, b: Namespace): boolean => a.bytes > b.bytes || (a.bytes === b.bytes && a.name < b.name);

/** A binary max-heap of namespaces by paysFirst: a namespace's bytes only go down, and it is re-inserted after. */
class Heap {
  private readonly items: Namespace[] = [];
  push(n: Namespace): void {
    const a = this.items;
    a.push(n);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!paysFirst(a[i] as Namespace, a[parent] as Namespace)) break;
      [a[i], a[parent]] = [a[parent] as Namespace, a[i] as Namespace];
      i = parent;
    }
  }
  pop(): Namespace | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && paysFirst(a[l] as Namespace, a[best] as Namespace)) best = l;
        if (r < a.length && paysFirst(a[r] as Namespace, a[best] as Namespace)) best = r;
        if (best === i) break;
        [a[i], a[best]] = [a[best] as Namespace, a[i] as Namespace];
        i = best;
      }
    }
    return top;
  }
}

/**
 * Which objects to leave out so that the snapshot fits what data planes accept. A snapshot over it is
 * refused by every data-plane pod, and then no tenant's change reaches traffic. So when it does not
 * fit, the tenant namespace that holds the most bytes of it (every kind it carries: routes, Providers,
 * API keys, Budgets, GuardrailPolicies, DataPolicies) gives up its largest object, and again, each
 * time from whichever namespace then holds the most, until the snapshot fits. A namespace pays only
 * while none holds more, so one within an equal share (the room the platform leaves, divided among
 * the tenant namespaces) never loses an object, whatever the others grow to: a tenant that grows its
 * objects pays for them first. Largest first: the fewest objects go. Platform namespaces' objects are never left out,
 * nor the namespace labels (`fixedBytes`): when they alone do not fit, no tenant is made to pay for
 * them and `oversize` says so.
 */
export function fitSnapshot(
  objects: readonly SizedObject[],
  fixedBytes: number,
  platform: ReadonlySet<string> | undefined,
  budget = SNAPSHOT_BUDGET_BYTES,
): SnapshotFit {
  const refused = new Map<string, string>();
  const before = objects.reduce((sum, o) => sum + o.bytes, fixedBytes);
  if (before <= budget) return { refused };
  const byNamespace = new Map<string, Namespace>();
  let platformBytes = fixedBytes;
  for (const o of objects) {
    if (platform?.has(o.namespace) === true) {
      platformBytes += o.bytes;
      continue;
    }
    let ns = byNamespace.get(o.namespace);
    if (ns === undefined) byNamespace.set(o.namespace, (ns = { name: o.namespace, bytes: 0, objects: [], next: 0 }));
    ns.bytes += o.bytes;
    ns.objects.push(o);
  }
  if (platformBytes > budget) {
    return {
      refused,
      oversize: `the configuration snapshot would be ${size(before)}, over the ${size(budget)} every data-plane pod accepts in one push, and the platform namespaces' objects and the namespace labels alone take ${size(platformBytes)}: no tenant's object is left out for them, the snapshot is not published and the data planes keep serving the one they have; make the platform's objects smaller or raise the limit`,
    };
  }
  const heap = new Heap();
  for (const ns of byNamespace.values()) {
    ns.objects.sort((a, b) => b.bytes - a.bytes || (sizedKey(a.kind, a.namespace, a.name) < sizedKey(b.kind, b.namespace, b.name) ? -1 : 1));
    heap.push(ns);
  }
  let total = before;
  while (total > budget) {
    const ns = heap.pop();
    const o = ns?.objects[ns.next];
    // Unreachable: platformBytes fits, so the tenants' objects run out only once the snapshot fits.
    if (ns === undefined || o === undefined) break;
    const held = ns.bytes;
    ns.next++;
    ns.bytes -= o.bytes;
    total -= o.bytes;
    if (ns.next < ns.objects.length) heap.push(ns);
    refused.set(
      sizedKey(o.kind, o.namespace, o.name),
      `left out of the configuration snapshot, which would be ${size(before)}, over the ${size(budget)} every data-plane pod accepts in one push: namespace ${o.namespace} held the most of it (${size(held)}), so its largest objects are left out, largest first, until the snapshot fits or another namespace holds more; this one is ${size(o.bytes)}; make namespace ${o.namespace}'s objects smaller or fewer`,
    );
  }
  return { refused };
}

/** Accepted=False, reason SnapshotTooLarge, on the statuses of the objects `fit` leaves out; their other conditions stay. */
export function markLeftOut(statuses: readonly ObjectStatus[], fit: SnapshotFit): void {
  for (const status of statuses) {
    const message = fit.refused.get(sizedKey(status.kind, status.namespace, status.name));
    if (message === undefined) continue;
    const generation = status.conditions.find((c) => c.type === 'Accepted')?.observedGeneration ?? status.generation;
    status.conditions = [condition('Accepted', false, 'SnapshotTooLarge', message, generation), ...status.conditions.filter((c) => c.type !== 'Accepted')];
  }
}
