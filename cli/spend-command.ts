import {
  breakdownRows,
  DIMENSIONS,
  type Dimension,
  errorsOf,
  isDimension,
  lastDays,
  type Stats,
  STATS_HEADERS,
  statsCells,
  type UsageReportObject,
  windowOf,
} from '../operator/console/web/usage-numbers.js';
import { type ReadJson, readReports } from '../operator/console/web/usage-reading.js';
import { kubeconfigError } from '../dataplane/config/kubeconfig-error.js';
import { printable, printableJson } from './printable.js';

/** A refusal from wherever the objects are read (API server or console), with its HTTP status. */
export class ReadRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ReadRefused';
  }
}

/** GETs a Kubernetes API path (a list or one object; its metadata only when asked) and returns the parsed body, or throws ReadRefused. */
export type Reader = ReadJson;

/** What the user asked for, parsed from the flags. */
export interface SpendQuery {
  by: Dimension;
  since: string;
  today: string;
  namespace?: string;
}

/**
 * The UsageReports that give the numbers asked for: each report's day summary from one
 * metadata-only list (a few kilobytes a day), and the full report (~100 KiB) only of a day whose
 * summary cannot give them (written by an older operator), as the console reads them.
 */
export function spendReports(read: Reader, q: SpendQuery): Promise<UsageReportObject[]> {
  return readReports(read, q.namespace, [q.by], q.since, q.today);
}

/** `--since`: "Nd" (the last N days, today included, as the console's Days) or a day (YYYY-MM-DD) up to today. */
export function parseSince(value: string, now: number): { since: string; today: string } | { error: string } {
  const span = /^(\d{1,4})d$/.exec(value);
  if (span !== null) {
    const n = Number(span[1]);
    return n >= 1 ? lastDays(n, now) : { error: '--since must be at least 1d' };
  }
  const { today } = lastDays(1, now);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value) && Number.isFinite(Date.parse(`${value}T00:00:00Z`))) {
    return value <= today ? { since: value, today } : { error: `--since ${value} is after today (${today}, UTC)` };
  }
  return { error: `--since takes a number of days (7d) or a day (YYYY-MM-DD), got "${value}"` };
}

export function parseBy(value: string | undefined): { by: Dimension } | { error: string } {
  const by = value ?? 'namespace';
  return isDimension(by) ? { by } : { error: `--by takes ${Object.keys(DIMENSIONS).join(', ')}; got "${by}"` };
}

/** The rows and total the console's Breakdowns view shows for the same reports and days. */
export function spendRows(reports: readonly UsageReportObject[], q: SpendQuery): { rows: [string, Stats][]; total: Stats } {
  return { rows: breakdownRows(reports, q.by, q.since, q.today), total: windowOf(reports, q.since, q.today).totals };
}


/** A plain-text table: the first column left-aligned, the numbers right-aligned. */
export function renderTable(q: SpendQuery, reports: readonly UsageReportObject[]): string {
  const { rows, total } = spendRows(reports, q);
  const lines = [[DIMENSIONS[q.by].toUpperCase(), ...STATS_HEADERS.map((h) => h.toUpperCase())], ...rows.map(([key, s]) => statsCells(printable(key), s)), statsCells('TOTAL', total)];
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? [];
  const format = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const scope = q.namespace === undefined ? 'every namespace these credentials may list' : `namespace ${q.namespace}`;
  return `Spend by ${q.by}, ${q.since} to ${q.today} (UTC), ${scope}\n${lines.map(format).join('\n')}\n`;
}

/** The same numbers, unformatted, for scripts (JSON.stringify alone leaves C1 and direction characters raw). */
export function renderJson(q: SpendQuery, reports: readonly UsageReportObject[]): string {
  const { rows, total } = spendRows(reports, q);
  const row = (s: Stats): Stats & { errors: number } => ({ ...s, errors: errorsOf(s) });
  // Keys are tenants' text: their control and direction characters are escaped, as in the table.
  return `${printableJson({ by: q.by, since: q.since, until: q.today, ...(q.namespace === undefined ? {} : { namespace: q.namespace }), rows: rows.map(([key, s]) => ({ key, ...row(s) })), total: row(total) }, 2)}\n`;
}

/** What a refusal means to the person running the command. */
export function explainRefusal(err: ReadRefused, namespace: string | undefined): string {
  return printable(refusalText(err, namespace));
}

function refusalText(err: ReadRefused, namespace: string | undefined): string {
  const where = namespace === undefined ? 'in every namespace' : `in namespace ${namespace}`;
  if (err.status === 401) return `the credentials were not accepted (401): ${err.message}`;
  if (err.status === 403) return `not allowed to list usagereports ${where} (403)${namespace === undefined ? '; pass -n <namespace> for one you may read' : ''}: ${err.message}`;
  if (err.status === 404) return `no usagereports resource (404): is Tollgate's CRD installed? ${err.message}`;
  return `reading usagereports ${where} failed (${err.status}): ${err.message}`;
}

/**
 * The most one answer of the console may be. A metadata-only list of every namespace's reports is a
 * few KB a report; past this the command stops, rather than buffer whatever a console (or whatever
 * answers at that URL) sends until the machine runs out of memory.
 */
export const MAX_CONSOLE_ANSWER_BYTES = 256 * 1024 * 1024;

/** Reads through a console (/console/api/k8s/…: the operator's port, or tollgate dev's admin port) with a bearer token. */
export function consoleReader(url: string, token: string, maxBytes = MAX_CONSOLE_ANSWER_BYTES): Reader {
  const base = url.replace(/\/+$/, '').replace(/\/console$/, '');
  return async (path, metadataOnly) => {
    const url = `${base}/console/api/k8s${path}${metadataOnly ? `${path.includes('?') ? '&' : '?'}as=metadata` : ''}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(60_000) });
    const text = await boundedText(res, maxBytes, path);
    if (!res.ok) throw new ReadRefused(res.status, messageOf(text));
    return JSON.parse(text) as unknown;
  };
}

/** The answer's body as text, or an error once it passes `maxBytes` (announced or read): the rest is never read. */
async function boundedText(res: Response, maxBytes: number, path: string): Promise<string> {
  const tooLarge = (): Error => new Error(`the console's answer to ${path} is larger than ${maxBytes} bytes; stopped reading it`);
  const announced = Number(res.headers.get('content-length') ?? '0');
  if (announced > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function messageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: string; error?: { message?: string } };
    return parsed.message ?? parsed.error?.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

/** Reads the API server with a kubeconfig (a file, else KUBECONFIG, ~/.kube/config or the pod's ServiceAccount): its RBAC applies. */
export async function kubeReader(kubeconfig: string | undefined, context: string | undefined): Promise<{ read: Reader; close: () => Promise<void> }> {
  // Loaded only for this command: the Kubernetes client is large.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeClient, KubeError, METADATA_LIST } = await import('../operator/kube/kube-client.js');
  const kc = new KubeConfig();
  try {
    if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw kubeconfigError(kubeconfig ?? 'the kubeconfig', err);
  }
  if (context !== undefined) {
    if (kc.getContextObject(context) === null) throw new ReadRefused(400, `the kubeconfig has no context "${context}"`);
    kc.setCurrentContext(context);
  }
  const client = new KubeClient(kc);
  return {
    read: async (path, metadataOnly) => {
      const accept = metadataOnly ? METADATA_LIST : 'application/json';
      try {
        return await client.request<unknown>('GET', path, undefined, 'application/json', AbortSignal.timeout(60_000), accept);
      } catch (err) {
        if (err instanceof KubeError) throw new ReadRefused(err.status, err.message);
        throw err;
      }
    },
    close: () => client.close(),
  };
}
