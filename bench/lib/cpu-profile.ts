import { readFileSync } from 'node:fs';

/** The parts of a V8 .cpuprofile (as written by `node --cpu-prof`) this summary reads. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfPct: number;
  totalPct?: number;
}

const FRAMEWORK = new Set(
  'express router body-parser raw-body parseurl content-type type-is mime-types mime-db media-typer on-finished finalhandler send qs iconv-lite http-errors depd statuses content-disposition cookie cookie-signature vary accepts negotiator encodeurl escape-html etag fresh merge-descriptors proxy-addr forwarded ipaddr.js range-parser path-to-regexp is-promise unpipe ee-first bytes setprototypeof toidentifier inherits safe-buffer utils-merge methods debug ms serve-static side-channel object-inspect call-bound get-intrinsic'.split(' '),
);
const LOGGING = new Set('pino sonic-boom thread-stream fast-redact quick-format-unescaped safe-stable-stringify on-exit-leak-free atomic-sleep real-require process-warning pino-std-serializers'.split(' '));

/** Coarse buckets for "where the time goes". */
export function groupOf(area: string): string {
  if (area === '(garbage collector)') return 'garbage collection';
  if (area === '(program)' || area === '(root)') return 'V8 / runtime (program)';
  if (area === '(native / V8)') return 'native code (syscalls such as writev, JSON, builtins)';
  if (area.startsWith('tollgate ')) return "Tollgate's own code";
  if (FRAMEWORK.has(area)) return 'express and its middleware (router, body-parser, …)';
  if (LOGGING.has(area)) return 'pino (logging)';
  if (area === 'prom-client' || area === 'tdigest' || area === 'bintrees' || area.startsWith('@opentelemetry/')) return 'metrics and tracing (prom-client, OpenTelemetry)';
  if (area === 'undici') return 'undici (upstream HTTP client)';
  if (area === 'zod' || area.startsWith('zod/')) return 'zod (request validation)';
  if (area.startsWith('node:_http_')) return 'Node HTTP server and client internals';
  if (area.startsWith('wasm://')) return 'undici (upstream HTTP client)';
  if (area.startsWith('node:')) return 'Node internals (streams, events, timers, …)';
  return 'other';
}

export interface ProfileSummary {
  durationMs: number;
  samples: number;
  idlePct: number;
  /** By function, self time. */
  topSelf: ProfileEntry[];
  /** By area (package, Node internals, Tollgate file): self time, and inclusive time (totalPct). */
  areas: ProfileEntry[];
  /** Tollgate's own functions by inclusive time (self plus callees). */
  tollgateTotal: ProfileEntry[];
  /** Self time in coarse groups (framework, logging, upstream client, GC, …); sums to 100%. */
  groups: ProfileEntry[];
}

/** Where a frame lives: a package under node_modules, a Node internal module, or a project file. */
export function areaOf(url: string, name: string): string {
  if (url === '') return ['(garbage collector)', '(program)', '(idle)', '(root)'].includes(name) ? name : '(native / V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return `tollgate ${url.slice(dist + '/dist/'.length)}`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * Summarises a .cpuprofile. `skipMs` drops the samples of the first milliseconds (start-up, module
 * loading, warm-up), so that the numbers describe the steady state under load.
 */
export function summariseProfile(file: string, skipMs = 0, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  // Self time per node from samples and their time deltas (more exact than hitCount).
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let clock = 0;
  let counted = 0;
  let firstCounted: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    clock += deltas[i] ?? 0;
    if (clock < skipMs * 1000) continue;
    firstCounted ??= clock;
    counted++;
    const id = samples[i] ?? 0;
    // timeDeltas[i] is the time before sample i; attribute the following delta to it.
    const dt = deltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, dt));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  let idle = 0;
  const fnSelf = new Map<string, { name: string; where: string; t: number }>();
  const areaSelf = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += t;
      continue;
    }
    const name = functionName || '(anonymous)';
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    const key = `${name}@${where}`;
    const e = fnSelf.get(key) ?? { name, where, t: 0 };
    e.t += t;
    fnSelf.set(key, e);
    const area = areaOf(url, name);
    areaSelf.set(area, (areaSelf.get(area) ?? 0) + t);
  }
  const busy = total - idle || 1;
  // Inclusive time for Tollgate frames: self plus descendants, counted once per stack.
  const inclusive = new Map<string, { name: string; where: string; t: number }>();
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id);
    let t = self.get(id) ?? 0;
    for (const c of n?.children ?? []) t += sizeOf(c);
    subtree.set(id, t);
    return t;
  };
  const root = profile.nodes[0];
  const walk = (id: number, active: Set<string>): void => {
    const n = byId.get(id);
    if (n === undefined) return;
    const { functionName, url, lineNumber } = n.callFrame;
    let key: string | undefined;
    if (url.includes('/dist/') && !url.includes('node_modules')) {
      const name = functionName || '(anonymous)';
      const where = `${shortUrl(url)}:${lineNumber + 1}`;
      key = `${name}@${where}`;
      if (!active.has(key)) {
        const e = inclusive.get(key) ?? { name, where, t: 0 };
        e.t += sizeOf(id);
        inclusive.set(key, e);
      }
    }
    const next = key === undefined || active.has(key) ? active : new Set([...active, key]);
    for (const c of n.children ?? []) walk(c, next);
  };
  if (root !== undefined) walk(root.id, new Set());
  // Inclusive time per area: a sample counts for every area on its stack, once.
  const areaTotal = new Map<string, number>();
  const walkAreas = (id: number, active: Set<string>): void => {
    const n = byId.get(id);
    if (n === undefined) return;
    const area = areaOf(n.callFrame.url, n.callFrame.functionName);
    const here = active.has(area) ? active : new Set([...active, area]);
    const t = self.get(id) ?? 0;
    if (t > 0 && n.callFrame.functionName !== '(idle)') for (const a of here) areaTotal.set(a, (areaTotal.get(a) ?? 0) + t);
    for (const c of n.children ?? []) walkAreas(c, here);
  };
  if (root !== undefined) walkAreas(root.id, new Set());
  const pct = (t: number): number => (100 * t) / busy;
  const groupSelf = new Map<string, number>();
  for (const [area, t] of areaSelf) groupSelf.set(groupOf(area), (groupSelf.get(groupOf(area)) ?? 0) + t);
  return {
    durationMs: (clock - (firstCounted ?? 0)) / 1000,
    samples: counted,
    idlePct: (100 * idle) / total,
    topSelf: [...fnSelf.values()].sort((a, b) => b.t - a.t).slice(0, top).map((e) => ({ name: e.name, where: e.where, selfPct: pct(e.t) })),
    areas: [...areaSelf.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, t]) => ({ name, where: '', selfPct: pct(t), totalPct: pct(areaTotal.get(name) ?? 0) })),
    tollgateTotal: [...inclusive.values()]
      .sort((a, b) => b.t - a.t)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfPct: pct(fnSelf.get(`${e.name}@${e.where}`)?.t ?? 0), totalPct: pct(e.t) })),
    groups: [...groupSelf.entries()].sort((a, b) => b[1] - a[1]).map(([name, t]) => ({ name, where: '', selfPct: pct(t) })),
  };
}
