import { type EndpointSliceObject, SERVICE_NAME_LABEL } from '../controller/kube-types.js';

/**
 * Names a pod's usage reports carry, per Kubernetes pod, that count as that pod's own (the most
 * recent ones; one per container start). A pod that restarts its container more often than this
 * within a day has its oldest names ranked with the unproven ones.
 */
export const PROVEN_NAMES_PER_POD = 4;

/** A data plane names itself `<hostname or POD_NAME>-<8 hex digits, new at each start>` (dataplane/main/dataplane.ts). */
const START_SUFFIX = /-[0-9a-f]{8}$/;

/** The Kubernetes pod a report's name says it comes from (the name itself when it has no start suffix). */
export const podOfReporter = (reporter: string): string => reporter.replace(START_SUFFIX, '');

/** A pod's hostname, which a data plane names itself by: its name, cut to 63 characters as the kubelet cuts it. */
const hostnameOf = (pod: string): string => (pod.length <= 63 ? pod : pod.slice(0, 63).replace(/[-.]+$/, ''));

/** The address as EndpointSlices write it (a v4 peer of a dual-stack socket shows as ::ffff:a.b.c.d). */
function plainAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address.toLowerCase();
}

/**
 * How much a pod's `appliedThrough` entry is worth keeping when a Budget holds too many:
 * 0 a name no data-plane pod has (a gone pod, or a made-up name), 1 a data-plane pod's name,
 * 2 a name that pod itself reported under, from its own address.
 */
export type ReporterRank = 0 | 1 | 2;

/**
 * The data-plane pods as the operator knows them (the data-plane Service's EndpointSlices, the
 * same the snapshots are pushed to), to tell whose usage a report may carry. Every data-plane pod
 * holds the admin token the channel is authenticated with, so the token alone does not say which
 * pod sent a report: the connection's source address does, where the pod network keeps it (it
 * does without a proxy in between; a mesh sidecar's connections come from 127.0.0.6 or the like,
 * which is no pod's address).
 *
 * - A report from a data-plane pod's address must name that pod (or a name no data-plane pod has):
 *   one pod cannot report under another's name.
 * - A pod that has reported from its own address (this leader has seen it) is bound to it: a report
 *   naming it from any other address is refused.
 * - Names that are no data-plane pod's are counted as before, but rank lowest when a Budget's
 *   `appliedThrough` is full (see rank), so they never push out the pods that are there.
 */
export class ReportingPods {
  private seen: readonly EndpointSliceObject[] = [];
  /** Address → the data-plane pods (their names and hostnames) at it. */
  private byAddress = new Map<string, Set<string>>();
  /** Every data-plane pod's name and hostname. */
  private pods = new Set<string>();
  /** Pod → the report names it used from its own address, the most recent last. */
  private readonly proven = new Map<string, string[]>();

  constructor(
    private readonly slices: () => Iterable<EndpointSliceObject>,
    private readonly namespace: string,
    private readonly service: string,
  ) {}

  /** Reads the EndpointSlices again when the informer replaced one (each is a new object then). */
  private refresh(): void {
    const current: EndpointSliceObject[] = [];
    for (const s of this.slices()) if (s.metadata.namespace === this.namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === this.service) current.push(s);
    if (current.length === this.seen.length && current.every((s, i) => s === this.seen[i])) return;
    this.seen = current;
    this.byAddress = new Map();
    this.pods = new Set();
    for (const slice of current) {
      for (const ep of slice.endpoints ?? []) {
        const ref = ep.targetRef;
        if (ref?.name === undefined || ref.name === null || (ref.kind !== undefined && ref.kind !== null && ref.kind !== 'Pod')) continue;
        const names = [ref.name, hostnameOf(ref.name)];
        for (const name of names) this.pods.add(name);
        for (const address of ep.addresses) {
          const key = plainAddress(address) ?? address;
          let at = this.byAddress.get(key);
          if (at === undefined) this.byAddress.set(key, (at = new Set()));
          for (const name of names) at.add(name);
        }
      }
    }
    for (const pod of this.proven.keys()) if (!this.pods.has(pod)) this.proven.delete(pod);
  }

  /** Why a report under this name from this address is refused, or undefined when it is taken. */
  check(reporter: string, remoteAddress: string | undefined): string | undefined {
    this.refresh();
    const pod = podOfReporter(reporter);
    const address = plainAddress(remoteAddress);
    const here = address === undefined ? undefined : this.byAddress.get(address);
    if (here?.has(pod) === true) {
      const names = (this.proven.get(pod) ?? []).filter((n) => n !== reporter);
      names.push(reporter);
      this.proven.set(pod, names.slice(-PROVEN_NAMES_PER_POD));
      return undefined;
    }
    if (!this.pods.has(pod)) return undefined;
    if (here !== undefined) return `the report names data-plane pod ${pod}, but comes from another data-plane pod's address`;
    if (this.proven.has(pod)) return `data-plane pod ${pod} reports from its own address, not from this one`;
    return undefined;
  }

  /** See ReporterRank (as of the last check). */
  rank(reporter: string): ReporterRank {
    const pod = podOfReporter(reporter);
    if (!this.pods.has(pod)) return 0;
    return this.proven.get(pod)?.includes(reporter) === true ? 2 : 1;
  }
}

/**
 * Which of these names (in least recently heard order) to forget first: the lowest ranked, the
 * least recently heard among them. Shared by every per-pod map the usage channel keeps bounded
 * (Budget and UsageReport appliedThrough, the send-window term); without `rank`, the first.
 */
export function leastWorth(names: Iterable<string>, rank: ((pod: string) => number) | undefined): string | undefined {
  let pick: string | undefined;
  let pickRank = Number.POSITIVE_INFINITY;
  for (const name of names) {
    const r = rank?.(name) ?? 0;
    if (r < pickRank) {
      pick = name;
      pickRank = r;
      if (r <= 0) break;
    }
  }
  return pick;
}
