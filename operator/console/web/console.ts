// The console's script, run in the browser. It reads Tollgate's objects through the operator with
// the viewer's own token (/console/api/k8s/...), so it shows exactly what their RBAC allows, and
// computes every number from UsageReport, Budget, ModelRoute and Provider objects and their Events.

import {
  breakdownRows,
  count,
  days,
  DIMENSIONS,
  type Dimension,
  duration,
  errorsOf,
  holds,
  lastDays,
  money,
  OUTCOMES,
  percent,
  quantile,
  type ReportMetadata,
  STATS_HEADERS,
  statsCells,
  type UsageReportObject,
  windowOf,
} from './usage-numbers.js';
import { eventsInTheirNamespace, fromSummaries, listAll, type ReadJson, reportsPath, wholeReports } from './usage-reading.js';

interface Meta {
  name: string;
  namespace?: string;
  generation?: number;
  creationTimestamp?: string;
  managedFields?: { operation?: string; time?: string; fieldsV1?: Record<string, unknown>; subresource?: string }[];
}
type UsageReport = UsageReportObject & { metadata: Meta };
interface Budget {
  metadata: Meta;
  spec: { limit: { amount: number; unit?: string }; period?: string };
  status?: { spent?: number; remaining?: number; periodStart?: string; resetsAt?: string };
}
interface Routed {
  metadata: Meta;
  spec: Record<string, unknown>;
  status?: { specHistory?: { generation: number; changedAt: string }[] };
}
interface KubeEvent {
  metadata?: { namespace?: string };
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; namespace?: string; name?: string };
}
interface Data {
  /** One per namespace and day: its summary, or the full report when it has none. */
  reports: UsageReportObject[];
  /** The full reports of the window's days whose summaries lack the route, model and caller breakdowns (v1), read when a view needs them. */
  full: Promise<UsageReportObject[]> | undefined;
  fullReports: UsageReportObject[] | undefined;
  readFull: () => Promise<UsageReportObject[]>;
  budgets: Budget[];
  routes: Routed[];
  providers: Routed[];
  events: KubeEvent[];
  notes: string[];
  since: string;
  today: string;
}

// ---- DOM helpers -------------------------------------------------------------------------

type Child = Node | string | number | undefined | null | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== undefined && c !== null && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

function card(label: string, value: string, id: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', 'data-testid': id }, value));
}

function table(caption: string, headers: string[], rows: Child[][], id: string): HTMLTableElement {
  return h(
    'table',
    { 'data-testid': id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c)))))),
  );
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Bars per day, with vertical markers (configuration changes) at their times. */
function dailyChart(title: string, days: string[], values: number[], markers: { at: string; label: string }[], format: (n: number) => string): Element {
  const width = 640;
  const height = 160;
  const pad = 24;
  const max = Math.max(1e-9, ...values);
  const step = (width - 2 * pad) / Math.max(1, days.length);
  const root = svg('svg', { class: 'chart', width, height, role: 'img', 'aria-label': `${title}: ${days.map((d, i) => `${d} ${format(values[i] ?? 0)}`).join(', ')}` });
  root.append(svg('title', {}, title));
  days.forEach((day, i) => {
    const v = values[i] ?? 0;
    const bh = ((height - 2 * pad) * v) / max;
    root.append(svg('rect', { class: 'bar', x: pad + i * step + 2, y: height - pad - bh, width: Math.max(1, step - 4), height: bh }));
    if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) root.append(svg('text', { x: pad + i * step + 2, y: height - 8 }, day.slice(5)));
  });
  root.append(svg('text', { x: 4, y: 12 }, `${title} (max ${format(max)})`));
  const first = days[0];
  for (const m of markers) {
    if (first === undefined) break;
    const dayIndex = (Date.parse(m.at) - Date.parse(`${first}T00:00:00Z`)) / 86_400_000;
    if (dayIndex < 0 || dayIndex > days.length) continue;
    const x = pad + dayIndex * step;
    const line = svg('line', { class: 'marker', x1: x, x2: x, y1: pad, y2: height - pad });
    line.append(svg('title', {}, m.label));
    root.append(line);
  }
  return root;
}

// ---- numbers -----------------------------------------------------------------------------

/**
 * Every ModelRoute and Provider spec change (generation bump) the operator recorded in the object's
 * status.specHistory (tollgate dev keeps one too); for an object without one (written by an older
 * operator), its last spec write from managedFields.
 */
function changes(data: Data): { at: string; label: string }[] {
  const out: { at: string; label: string }[] = [];
  for (const [kind, list] of [['ModelRoute', data.routes], ['Provider', data.providers]] as const) {
    for (const o of list) {
      const name = `${kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      const history = o.status?.specHistory ?? [];
      if (history.length > 0) {
        for (const c of history) out.push({ at: c.changedAt, label: `${name} generation ${c.generation} (${c.changedAt})` });
        continue;
      }
      const specWrites = (o.metadata.managedFields ?? []).filter((f) => f.subresource !== 'status' && f.time !== undefined && JSON.stringify(f.fieldsV1 ?? {}).includes('"f:spec"'));
      const at = specWrites.map((f) => f.time ?? '').sort().at(-1) ?? o.metadata.creationTimestamp;
      if (at !== undefined) out.push({ at, label: `${name} generation ${o.metadata.generation ?? 1} (${at})` });
    }
  }
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

// ---- views -------------------------------------------------------------------------------


/**
 * A Budget's numbers as shown: spent and limit in its unit, and the spend at the end of its period
 * at the rate so far, spent / (now - periodStart) × (resetsAt - periodStart) (none for rolling windows).
 */
function budgetNumbers(b: Budget, now: number) {
  const spent = b.status?.spent ?? 0;
  const limit = b.spec.limit.amount;
  const fmt = b.spec.limit.unit === 'Tokens' ? (n: number) => `${count(n)} tokens` : money;
  const start = Date.parse(b.status?.periodStart ?? '');
  const end = Date.parse(b.status?.resetsAt ?? '');
  const period = Number.isFinite(start) && Number.isFinite(end) && end > start ? { start, end } : undefined;
  const projected = period !== undefined && now > period.start ? (spent / (now - period.start)) * (period.end - period.start) : undefined;
  return { name: `${b.metadata.namespace ?? ''}/${b.metadata.name}`, spent, limit, fmt, period, projected };
}

function budgetRows(data: Data, now: number): Child[][] {
  return data.budgets.map((b) => {
    const { name, spent, limit, fmt, projected } = budgetNumbers(b, now);
    const over = projected !== undefined && projected > limit;
    return [
      name,
      fmt(spent),
      fmt(limit),
      percent(spent, limit),
      projected === undefined ? '–' : h('span', over ? { class: 'over' } : {}, `${fmt(projected)} (${percent(projected, limit)})`),
      b.status?.resetsAt ?? '–',
    ];
  });
}

function overview(data: Data): Node[] {
  const w = windowOf(data.reports, data.since, data.today);
  const today = windowOf(data.reports, data.today, data.today);
  const t = w.totals;
  const providers = breakdownRows(data.reports, 'provider', data.since, data.today).sort(([, a], [, b]) => b.requests - a.requests);
  const servedTotal = providers.reduce((n, [, s]) => n + s.requests, 0);
  const span = days(data.since, data.today);
  const perDay = span.map((d) => windowOf(data.reports, d, d).totals);
  return [
    h(
      'div',
      { class: 'cards' },
      card('Spend today', money(today.totals.costUsd), 'spend-today'),
      card(`Spend, ${span.length} days`, money(t.costUsd), 'spend-period'),
      card('Requests', count(t.requests), 'requests'),
      card('Error rate', percent(errorsOf(t), t.requests), 'error-rate'),
      card('Latency p50 / p95', `${duration(quantile(w.latency, w.bounds, 0.5))} / ${duration(quantile(w.latency, w.bounds, 0.95))}`, 'latency'),
      card('TTFT p50 / p95', `${duration(quantile(w.ttft, w.bounds, 0.5))} / ${duration(quantile(w.ttft, w.bounds, 0.95))}`, 'ttft'),
      card('Tokens in / out', `${count(t.inputTokens)} / ${count(t.outputTokens)}`, 'tokens'),
      card('Cache hit rate', percent(t.cacheHits, t.requests), 'cache-hit-rate'),
    ),
    dailyChart('Requests per day', span, perDay.map((s) => s.requests), changes(data), count),
    dailyChart('Spend per day', span, perDay.map((s) => s.costUsd), changes(data), money),
    table('Provider mix', ['Provider', 'Requests', 'Share', 'Cost'], providers.map(([k, s]) => [k, count(s.requests), percent(s.requests, servedTotal), money(s.costUsd)]), 'provider-mix'),
    table('Budgets', ['Budget', 'Spent', 'Limit', 'Used', 'Projected at reset', 'Resets at'], budgetRows(data, Date.now()), 'overview-budgets'),
  ];
}

let dimension: Dimension = 'namespace';

function breakdownView(data: Data): Node[] {
  const select = h('select', { id: 'dimension', 'aria-label': 'Break down by' }, ...Object.entries(DIMENSIONS).map(([k, label]) => h('option', k === dimension ? { value: k, selected: '' } : { value: k }, label)));
  select.addEventListener('change', () => {
    dimension = select.value as Dimension;
    render();
    document.getElementById('dimension')?.focus();
  });
  const picker = h('label', {}, 'Break down by ', select);
  const inWindow = (r: UsageReportObject): boolean => r.metadata.name >= data.since && r.metadata.name <= data.today;
  // Summaries written by an older operator (v1) hold namespaces and providers only: read those days whole.
  const partial = data.reports.some((r) => !holds(r, dimension) && inWindow(r));
  if (partial && data.fullReports === undefined) {
    const shown = dimension;
    data.full ??= data.readFull();
    data.full.then(
      (full) => {
        data.fullReports = full;
        if (current === 'breakdown' && dimension === shown) render();
      },
      (err: unknown) => {
        data.full = undefined;
        say((err as Error).message, 'error');
      },
    );
    return [picker, h('p', { 'data-testid': 'breakdown-loading' }, `Reading the full reports of ${data.since} to ${data.today}…`)];
  }
  const reports = partial ? [...data.reports.filter((r) => holds(r, dimension)), ...(data.fullReports ?? [])] : data.reports;
  const rows = breakdownRows(reports, dimension, data.since, data.today);
  const shown = table(`By ${DIMENSIONS[dimension].toLowerCase()}`, [DIMENSIONS[dimension], ...STATS_HEADERS], rows.map(([k, s]) => statsCells(k, s)), 'breakdown');
  shown.dataset.dimension = dimension;
  return [picker, shown];
}

function budgetsView(data: Data): Node[] {
  const now = Date.now();
  const charts = data.budgets.map((b) => {
    const { name, spent, limit, fmt, period, projected } = budgetNumbers(b, now);
    const width = 640;
    const height = 120;
    const forecast = projected === undefined ? 'no projection' : `projected ${fmt(projected)} (${percent(projected, limit)}) at reset`;
    const root = svg('svg', { class: 'chart', width, height, role: 'img', 'aria-label': `Burn-down of ${name}: ${fmt(spent)} of ${fmt(limit)} spent (${percent(spent, limit)}), ${forecast}` });
    root.append(svg('title', {}, `Budget ${name}`));
    if (period !== undefined) {
      const { start, end } = period;
      const x = (t: number): number => 20 + ((width - 40) * (t - start)) / (end - start);
      const y = (v: number): number => height - 20 - ((height - 40) * Math.min(v, limit * 1.5)) / (limit * 1.5);
      root.append(svg('line', { class: 'marker', x1: 20, x2: width - 20, y1: y(limit), y2: y(limit) }));
      root.append(svg('line', { class: 'spent', stroke: '#4a78a8', 'stroke-width': 3, x1: x(start), y1: y(0), x2: x(Math.min(now, end)), y2: y(spent) }));
      root.append(svg('line', { class: 'projection', stroke: '#4a78a8', 'stroke-dasharray': '4 4', 'stroke-width': 2, x1: x(Math.min(now, end)), y1: y(spent), x2: x(end), y2: y(projected ?? spent) }));
      root.append(svg('text', { x: 22, y: 12 }, `${name}: limit line, spend so far, projection (dashed) to ${b.status?.resetsAt ?? ''}`));
    } else {
      root.append(svg('text', { x: 22, y: 12 }, `${name}: rolling window (no projection)`));
    }
    return root;
  });
  return [table('Budgets', ['Budget', 'Spent', 'Limit', 'Used', 'Projected at reset', 'Resets at'], budgetRows(data, now), 'budgets'), ...charts];
}

function failuresView(data: Data): Node[] {
  const t = windowOf(data.reports, data.since, data.today).totals;
  const providers = breakdownRows(data.reports, 'provider', data.since, data.today).filter(([, s]) => s.failovers > 0);
  const warnings = data.events.filter((e) => e.type === 'Warning').sort((a, b) => ((a.lastTimestamp ?? a.eventTime ?? '') < (b.lastTimestamp ?? b.eventTime ?? '') ? 1 : -1));
  return [
    table('Requests by outcome', ['Outcome', 'Requests', 'Share'], OUTCOMES.map((o) => [o, count(t.outcomes[o] ?? 0), percent(t.outcomes[o] ?? 0, t.requests)]), 'outcomes'),
    h('p', {}, 'Failovers: ', h('strong', { 'data-testid': 'failovers' }, count(t.failovers))),
    // A report counts a provider's failovers, not which of its requests came after one: its requests
    // and ok are all of them, so say so rather than show them as the outcome of the failovers.
    table('Who served after a failover', ['Provider', 'Failovers to it', 'Requests it served (all)', 'Ok (all)'], providers.map(([k, s]) => [k, count(s.failovers), count(s.requests), count(s.outcomes.ok ?? 0)]), 'served-instead'),
    table('Warning Events', ['Object', 'Reason', 'Message', 'Last seen'], warnings.slice(0, 50).map((e) => [`${e.involvedObject?.kind ?? ''} ${e.involvedObject?.namespace ?? ''}/${e.involvedObject?.name ?? ''}`, e.reason ?? '', e.message ?? '', e.lastTimestamp ?? e.eventTime ?? '']), 'events'),
  ];
}

let compareWindows: { a: [string, string]; b: [string, string] } | undefined;
function compareView(data: Data): Node[] {
  const span = days(data.since, data.today);
  const mid = span[Math.floor(span.length / 2)] ?? data.today;
  const beforeMid = span[Math.max(0, Math.floor(span.length / 2) - 1)] ?? data.since;
  compareWindows ??= { a: [data.since, beforeMid], b: [mid, data.today] };
  const win = compareWindows;
  const inputs = (key: 'a' | 'b', label: string): HTMLElement => {
    const [from, to] = win[key];
    const f = h('input', { type: 'date', value: from, 'aria-label': `${label} from`, id: `${key}-from` });
    const t = h('input', { type: 'date', value: to, 'aria-label': `${label} to`, id: `${key}-to` });
    const update = (): void => {
      win[key] = [f.value, t.value];
      render();
    };
    f.addEventListener('change', update);
    t.addEventListener('change', update);
    return h('fieldset', {}, h('legend', {}, label), f, ' to ', t);
  };
  const side = (key: 'a' | 'b', label: string): HTMLElement => {
    const [from, to] = win[key];
    const w = windowOf(data.reports, from, to);
    const s = w.totals;
    const mix = breakdownRows(data.reports, 'provider', from, to).sort(([, x], [, y]) => y.requests - x.requests);
    // Shares of the requests a provider served, as the overview's mix (refused and failed requests have none).
    const served = mix.reduce((n, [, x]) => n + x.requests, 0);
    return h(
      'section',
      { 'aria-label': label },
      table(
        `${label}: ${from} to ${to}`,
        ['Measure', 'Value'],
        [
          ['Requests', count(s.requests)],
          ['Error rate', percent(errorsOf(s), s.requests)],
          ['Latency p50 / p95', `${duration(quantile(w.latency, w.bounds, 0.5))} / ${duration(quantile(w.latency, w.bounds, 0.95))}`],
          ['TTFT p50 / p95', `${duration(quantile(w.ttft, w.bounds, 0.5))} / ${duration(quantile(w.ttft, w.bounds, 0.95))}`],
          ['Cost', money(s.costUsd)],
          ['Cost per request', s.requests === 0 ? '–' : money(s.costUsd / s.requests)],
          ['Tokens in / out', `${count(s.inputTokens)} / ${count(s.outputTokens)}`],
          ['Failovers', count(s.failovers)],
        ],
        `compare-${key}`,
      ),
      table(`${label}: provider mix`, ['Provider', 'Share'], mix.map(([k, x]) => [k, percent(x.requests, served)]), `compare-${key}-mix`),
    );
  };
  const marks = changes(data);
  return [
    h('div', { class: 'columns' }, inputs('a', 'Before'), inputs('b', 'After')),
    dailyChart('Requests per day (markers: ModelRoute and Provider changes)', span, span.map((d) => windowOf(data.reports, d, d).totals.requests), marks, count),
    h('div', { class: 'columns' }, side('a', 'Before'), side('b', 'After')),
    table('Configuration changes', ['When', 'What'], marks.map((m) => [m.at, m.label]), 'changes'),
  ];
}

// ---- loading and navigation --------------------------------------------------------------

const VIEWS = { overview, breakdown: breakdownView, budgets: budgetsView, failures: failuresView, compare: compareView } as const;
type View = keyof typeof VIEWS;
let current: View = 'overview';
let data: Data | undefined;

function say(text: string, state: 'loading' | 'done' | 'error'): void {
  const m = document.getElementById('message');
  if (m === null) return;
  m.textContent = text;
  m.className = state === 'error' ? 'error' : '';
  m.dataset.state = state;
}

function render(): void {
  const main = document.getElementById('view');
  if (main === null || data === undefined) return;
  main.replaceChildren(...VIEWS[current](data));
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) b.setAttribute('aria-pressed', String(b.dataset.view === current));
}

class Refused extends Error {
  constructor(
    readonly status: number,
    path: string,
  ) {
    super(path);
  }
}

async function readOne<T>(path: string, token: string): Promise<T> {
  const res = await fetch(`/console/api/k8s${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 403 || res.status === 404) throw new Refused(res.status, path);
  if (!res.ok) throw new Error(`${res.status} reading ${path}: ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

async function read<T>(path: string, token: string): Promise<T[]> {
  // An empty metadata-only list comes as `items: null`.
  return (await readOne<{ items: T[] | null }>(path, token)).items ?? [];
}

async function load(token: string, namespace: string, span: number): Promise<Data> {
  const ns = namespace === '' ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  const refused = new Set<string>();
  const optional = async <T>(what: string, reading: Promise<T[]>): Promise<T[]> => {
    try {
      return await reading;
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      refused.add(what);
      return [];
    }
  };
  const source: ReadJson = (path, metadataOnly) => readOne(metadataOnly ? `${path}${path.includes('?') ? '&' : '?'}as=metadata` : path, token);
  const listPath = reportsPath(namespace);
  // Only the reports' metadata: each carries its day's summary, all the views need.
  const [listed, budgets, routes, providers, events] = await Promise.all([
    optional('UsageReports', listAll<ReportMetadata>(source, listPath, true)),
    optional('Budgets', read<Budget>(`/apis/tollgate.dev/v1alpha1${ns}/budgets`, token)),
    optional('ModelRoutes', read<Routed>(`/apis/tollgate.dev/v1alpha1${ns}/modelroutes`, token)),
    optional('Providers', read<Routed>(`/apis/tollgate.dev/v1alpha1${ns}/providers`, token)),
    optional('Events', read<KubeEvent>(`/api/v1${ns}/events`, token).then(eventsInTheirNamespace)),
  ]);
  const notes = ['UsageReports', 'Budgets', 'ModelRoutes', 'Providers', 'Events'].filter((what) => refused.has(what));
  const { since, today } = lastDays(span, Date.now());
  // A report written by an older operator has no summary: read it whole (the window's days only).
  const summarized = fromSummaries(listed, ['provider'], since, today);
  const reports = [...summarized.reports, ...(await wholeReports(source, summarized.whole, listed.length, listPath))];
  const partial = summarized.reports.filter((r) => !holds(r, 'route') && r.metadata.name >= since && r.metadata.name <= today);
  const readFull = (): Promise<UsageReportObject[]> => wholeReports(source, partial, listed.length, listPath);
  return { reports, full: undefined, fullReports: undefined, readFull, budgets, routes, providers, events, notes, since, today };
}

function start(): void {
  const form = document.getElementById('scope') as HTMLFormElement | null;
  const tokenInput = document.getElementById('token') as HTMLInputElement | null;
  const nsInput = document.getElementById('namespace') as HTMLInputElement | null;
  const daysInput = document.getElementById('days') as HTMLInputElement | null;
  if (form === null || tokenInput === null || nsInput === null || daysInput === null) return;
  tokenInput.value = sessionStorage.getItem('tollgate-token') ?? '';
  nsInput.value = sessionStorage.getItem('tollgate-namespace') ?? '';
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    sessionStorage.setItem('tollgate-token', token);
    sessionStorage.setItem('tollgate-namespace', nsInput.value.trim());
    say('Loading…', 'loading');
    compareWindows = undefined;
    load(token, nsInput.value.trim(), Math.min(90, Math.max(1, Number(daysInput.value) || 7))).then(
      (loaded) => {
        data = loaded;
        const scope = nsInput.value.trim() === '' ? 'every namespace you may read' : `namespace ${nsInput.value.trim()}`;
        say(`${loaded.reports.length} daily reports from ${scope}, ${loaded.since} to ${loaded.today}.${loaded.notes.length > 0 ? ` Not allowed to read: ${loaded.notes.join(', ')}.` : ''}`, 'done');
        render();
      },
      (err: unknown) => say((err as Error).message, 'error'),
    );
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) {
    b.addEventListener('click', () => {
      current = (b.dataset.view ?? 'overview') as View;
      render();
    });
  }
  if (tokenInput.value !== '') form.requestSubmit();
}

start();
