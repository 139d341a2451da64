// How the console and `tollgate spend` read UsageReports, in one place: the reports' metadata in one
// list (each carries its day summary, a few kilobytes), and a full report (~100 KiB) only for a day
// whose summary cannot give the numbers asked for. No DOM and no Node: the browser loads this file
// as /console/usage-reading.js, the CLI imports it.

import { type Dimension, holds, type ReportMetadata, summaryReport, type UsageReportObject } from './usage-numbers.js';

/**
 * GETs a Kubernetes API path (a list or one object) as JSON with the viewer's credentials; with
 * `metadataOnly` (asked of lists only), the objects' metadata only (same verb, same RBAC). A refusal rejects with an error
 * whose `status` is the HTTP status.
 */
export type ReadJson = (path: string, metadataOnly: boolean) => Promise<unknown>;

interface ListPage<T> {
  items?: T[];
  metadata?: { continue?: string };
}

const statusOf = (err: unknown): number | undefined => {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
};

/** The UsageReports of one namespace, or of every namespace. */
export const reportsPath = (namespace?: string): string => `/apis/tollgate.dev/v1alpha1${namespace === undefined || namespace === '' ? '' : `/namespaces/${encodeURIComponent(namespace)}`}/usagereports`;

const reportPath = (r: ReportMetadata): string => `${reportsPath(r.metadata.namespace)}/${encodeURIComponent(r.metadata.name)}`;

/**
 * Every item of a list: one request, as the API server answers an unpaginated list from its watch
 * cache (pages of a paginated one come from etcd, several times slower), but a continue token in
 * the answer is followed all the same.
 */
export async function listAll<T>(read: ReadJson, path: string, metadataOnly: boolean): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined;
  do {
    const page = (await read(next === undefined ? path : `${path}?continue=${encodeURIComponent(next)}`, metadataOnly)) as ListPage<T>;
    out.push(...(page.items ?? []));
    next = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (next !== undefined);
  return out;
}

/**
 * The listed reports as their day summaries where a summary holds every dimension in `dims`; the
 * others of the days since..today (no summary: an older operator; or a v1 summary asked for routes,
 * models or callers) are to be read whole.
 */
export function fromSummaries(listed: readonly ReportMetadata[], dims: readonly Dimension[], since: string, today: string): { reports: UsageReportObject[]; whole: ReportMetadata[] } {
  const reports: UsageReportObject[] = [];
  const whole: ReportMetadata[] = [];
  for (const item of listed) {
    const summary = summaryReport(item);
    if (summary !== undefined && dims.every((d) => holds(summary, d))) reports.push(summary);
    else if (item.metadata.name >= since && item.metadata.name <= today) whole.push(item);
  }
  return { reports, whole };
}

/** Every item mapped, at most `width` at a time. */
async function pooled<T, R>(items: readonly T[], width: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

/**
 * The full reports of `wanted` (a part of the `listedCount` reports `listPath` lists): one GET
 * each, six at a time, when they are few; else, or when the viewer may list but not get them, the
 * one list (one request beats hundreds). A report deleted meanwhile is left out.
 */
export async function wholeReports(read: ReadJson, wanted: readonly ReportMetadata[], listedCount: number, listPath: string): Promise<UsageReportObject[]> {
  if (wanted.length === 0) return [];
  const key = (r: ReportMetadata | UsageReportObject): string => `${r.metadata.namespace ?? ''}/${r.metadata.name}`;
  const keys = new Set(wanted.map(key));
  const fromList = async (): Promise<UsageReportObject[]> => (await listAll<UsageReportObject>(read, listPath, false)).filter((r) => r.status !== undefined && keys.has(key(r)));
  if (wanted.length > 50 && wanted.length * 2 > listedCount) return fromList();
  try {
    const got = await pooled(wanted, 6, (r) => read(reportPath(r), false).then((x) => x as UsageReportObject, (err: unknown) => (statusOf(err) === 404 ? undefined : Promise.reject(err))));
    return got.filter((r): r is UsageReportObject => r?.status !== undefined);
  } catch (err) {
    if (statusOf(err) === 403) return fromList();
    throw err;
  }
}

/** The reports that give the numbers by `dims` over since..today: summaries where they suffice, the rest read whole. */
export async function readReports(read: ReadJson, namespace: string | undefined, dims: readonly Dimension[], since: string, today: string): Promise<UsageReportObject[]> {
  const path = reportsPath(namespace);
  const listed = await listAll<ReportMetadata>(read, path, true);
  const { reports, whole } = fromSummaries(listed, dims, since, today);
  return [...reports, ...(await wholeReports(read, whole, listed.length, path))];
}

/** An Event as the console reads it: where it is stored, and the object it says it is about. */
export interface EventPlace {
  metadata?: { namespace?: string };
  involvedObject?: { namespace?: string };
}

/**
 * The Events stored in the namespace of the object they are about. The API server accepts an Event
 * about an object of another namespace (with eventTime set), so anyone who may create Events in
 * their own namespace could otherwise show warnings "about" another team's Provider. Tollgate
 * records its Events in the object's namespace.
 */
export function eventsInTheirNamespace<T extends EventPlace>(events: readonly T[]): T[] {
  return events.filter((e) => e.metadata?.namespace !== undefined && e.metadata.namespace === e.involvedObject?.namespace);
}
