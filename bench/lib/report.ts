import type { BenchConfig, SystemId } from './config.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { LoadSample, MachineInfo } from './machine.js';
import type { C1Row, MemoryResult, StreamResult, SweepResult, WrkResult } from './scenarios.js';
import { type ShareRun, shareOf } from './throughput-share.js';

export interface SystemResult {
  key: string;
  id: SystemId;
  label: string;
  version?: string;
  notes: string[];
  /** Set when the system could not be installed or started: nothing else was measured. */
  error?: string;
  scenarioErrors: Record<string, string>;
  /** Concurrency 1, every system interleaved in one run (loadgen c1): latency and time to first token. */
  latency?: C1Row;
  throughput?: WrkResult;
  sweep?: SweepResult;
  stream?: StreamResult;
  /** The memory row is the median of these fresh starts (BENCH_MEMORY_STARTS). */
  memory?: MemoryResult;
  memoryRuns?: MemoryResult[];
}

export interface CompileSizeResult {
  routes: number;
  providers: number;
  yamlBytes: number;
  loadMs: number;
  compileMs: { min: number; median: number; max: number; runs: number };
  snapshotBytes: number;
  statuses: number;
  rejected: number;
}

export interface ProfileResult {
  name: string;
  workload: string;
  file: string;
  summary?: ProfileSummary;
  error?: string;
}

export interface RunResult {
  runId: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  loads: LoadSample[];
  systems: SystemResult[];
  compile?: { node: string; results: CompileSizeResult[] } | { error: string };
  profiles: ProfileResult[];
  /** How the interleaved c=1 run went (samples, duration); the rows are on each system. */
  c1?: { rounds: number; block: number; streamBlock: number; streamModel: string; seconds: number } | { error: string };
  /** The Node floor and Tollgate rows measured in turn (bench/lib/throughput-share.ts); absent without a floor row. */
  share?: ShareRun | { error: string };
  commands: string[];
}

// ---------- formatting ----------

const ms = (us: number | undefined, digits = 3): string => (us === undefined || !Number.isFinite(us) ? '–' : (us / 1000).toFixed(digits));
const signedMs = (us: number | undefined): string => (us === undefined || !Number.isFinite(us) ? '–' : `${us >= 0 ? '+' : '−'}${Math.abs(us / 1000).toFixed(3)}`);
const int = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const mib = (kib: number | undefined): string => (kib === undefined ? '–' : (kib / 1024).toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string => {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}×`;
};
/** Ratio of two "added" amounts: meaningless when either side added nothing measurable (≤ 0). */
const addedRatio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || a <= 0 || b <= 0 ? '–' : ratio(a, b));
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function why(s: SystemResult, scenario: string): string {
  if (s.error !== undefined) return `not run: ${s.error.slice(0, 120)}`;
  const e = s.scenarioErrors[scenario];
  return e === undefined ? '–' : `failed: ${e.slice(0, 140)}`;
}

// ---------- derived numbers ----------

export interface Derived {
  addedP50Us?: number;
  addedP99Us?: number;
  /** Time to the first token at c=1 (interleaved run), minus direct's. */
  addedTtftP50Us?: number;
  addedTtftP99Us?: number;
  /** Time to the first token in the streaming scenario (several streams at once), minus direct's. */
  streamAddedTtftP50Us?: number;
  streamAddedTtftP99Us?: number;
  addedChunkDelayP50Us?: number;
  addedChunkDelayP99Us?: number;
  rssStreamsKiB?: number;
}

export function derive(s: SystemResult, direct: SystemResult | undefined): Derived {
  const d: Derived = {};
  if (s.latency !== undefined && direct?.latency !== undefined) {
    d.addedP50Us = s.latency.latencyUs.p50 - direct.latency.latencyUs.p50;
    d.addedP99Us = s.latency.latencyUs.p99 - direct.latency.latencyUs.p99;
    if (s.latency.ttftUs.count !== undefined && s.latency.ttftUs.count > 0) {
      d.addedTtftP50Us = s.latency.ttftUs.p50 - direct.latency.ttftUs.p50;
      d.addedTtftP99Us = s.latency.ttftUs.p99 - direct.latency.ttftUs.p99;
    }
  }
  if (s.stream !== undefined && direct?.stream !== undefined && s.stream.ttftUs.count !== undefined && s.stream.ttftUs.count > 0) {
    d.streamAddedTtftP50Us = s.stream.ttftUs.p50 - direct.stream.ttftUs.p50;
    d.streamAddedTtftP99Us = s.stream.ttftUs.p99 - direct.stream.ttftUs.p99;
    d.addedChunkDelayP50Us = s.stream.chunkDelayUs.p50 - direct.stream.chunkDelayUs.p50;
    d.addedChunkDelayP99Us = s.stream.chunkDelayUs.p99 - direct.stream.chunkDelayUs.p99;
  }
  if (s.memory?.hold !== undefined) d.rssStreamsKiB = s.memory.hold.peakRssKiB;
  return d;
}

// ---------- sections ----------

function targets(r: RunResult, cfg: BenchConfig): string {
  const direct = r.systems.find((s) => s.id === 'direct');
  const tg = r.systems.find((s) => s.key === 'tollgate-off') ?? r.systems.find((s) => s.id === 'tollgate');
  const pk = r.systems.find((s) => s.id === 'portkey');
  const ll = r.systems.find((s) => s.id === 'litellm');
  if (tg === undefined) return '_Tollgate was not part of this run._';
  const t = derive(tg, direct);
  const p = pk === undefined ? {} : derive(pk, direct);
  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : '**not met**');
  // An added amount below zero means direct itself was slower in this run: noise, not a result.
  const added = (v: number | undefined, limitUs: number): string =>
    v === undefined ? 'not measured' : v < 0 ? 'inconclusive (direct was slower: noise)' : verdict(v <= limitUs);
  const compile = r.compile !== undefined && 'results' in r.compile ? r.compile.results.find((c) => c.routes === 10000) : undefined;
  // The issue defines the throughput targets with governance on.
  const tgOn = r.systems.find((s) => s.key === 'tollgate-on');
  const tgRps = (tgOn ?? tg).throughput?.rps;
  const govNote = tgOn === undefined ? ' (governance off: no governance-on row in this run)' : ' (governance on)';
  const pkRps = pk?.throughput?.rps;
  const llRps = ll?.throughput?.rps;
  // Preserved timing: every chunk arrives, no more chunks arrive together than direct's own noise,
  // and the added per-chunk delay stays under half the interval at p99.
  const coalesced =
    tg.stream === undefined || direct?.stream === undefined || t.addedChunkDelayP99Us === undefined
      ? undefined
      : tg.stream.streamsWithAllChunks === tg.stream.streams &&
        tg.stream.coalescedChunks <= direct.stream.coalescedChunks &&
        t.addedChunkDelayP99Us < (tg.stream.intervalMs * 1000) / 2;
  const rows: string[][] = [
    ['Added latency p50, concurrency 1', '≤ 0.3 ms', `${signedMs(t.addedP50Us)} ms`, added(t.addedP50Us, 300)],
    ['Added latency p99, concurrency 1', '≤ 1 ms', `${signedMs(t.addedP99Us)} ms`, added(t.addedP99Us, 1000)],
    [
      'Added p50 vs Portkey added p50',
      '≤ 1/5 (0.2×)',
      addedRatio(t.addedP50Us, p.addedP50Us),
      verdict(t.addedP50Us === undefined || p.addedP50Us === undefined ? undefined : t.addedP50Us <= p.addedP50Us / 5),
    ],
    [
      'Throughput per core at c=64 vs Portkey, governance on',
      '≥ 3×',
      `${ratio(tgRps, pkRps)}${govNote}`,
      verdict(tgRps === undefined || pkRps === undefined ? undefined : tgRps >= 3 * pkRps),
    ],
    [
      'Throughput per core at c=64 vs LiteLLM, governance on',
      '≥ 10×',
      `${ratio(tgRps, llRps)}${govNote}`,
      verdict(tgRps === undefined || llRps === undefined ? undefined : tgRps >= 10 * llRps),
    ],
    ['Added time to first token, p50', '≤ 0.5 ms', `${signedMs(t.addedTtftP50Us)} ms (p99 ${signedMs(t.addedTtftP99Us)} ms)`, added(t.addedTtftP50Us, 500)],
    [
      'No chunk coalescing (timing preserved)',
      'no more chunks delivered together than direct; added per-chunk delay p99 < interval/2; all chunks',
      tg.stream === undefined
        ? '–'
        : `${tg.stream.coalescedChunks} chunks delivered together (direct: ${direct?.stream?.coalescedChunks ?? '–'}); added per-chunk delay p50 ${signedMs(t.addedChunkDelayP50Us)} ms, p99 ${signedMs(t.addedChunkDelayP99Us)} ms; ${tg.stream.streamsWithAllChunks}/${tg.stream.streams} streams complete`,
      verdict(coalesced),
    ],
    [
      `RSS with ${cfg.holdStreams.toLocaleString('en-US')} concurrent streams`,
      '≤ 150 MB',
      t.rssStreamsKiB === undefined ? '–' : `${mib(t.rssStreamsKiB)} MiB (VmHWM ${mib(tg.memory?.peakHwmKiB)} MiB)`,
      verdict(t.rssStreamsKiB === undefined || cfg.holdStreams < 1000 ? undefined : (t.rssStreamsKiB * 1024) / 1e6 <= 150),
    ],
    ['Compile 10,000 ModelRoutes', '≤ 1 s', compile === undefined ? '–' : `${compile.compileMs.median.toFixed(0)} ms (+ ${compile.loadMs.toFixed(0)} ms YAML load + validation)`, verdict(compile === undefined ? undefined : compile.compileMs.median <= 1000)],
    ['kubectl apply → first request served, 20 data planes', '≤ 2 s', 'measured separately: `make bench-apply` (bench/results/apply-to-served-<date>.md)', 'see that report'],
  ];
  return table(['Target (issue 8)', 'Goal', 'This run (Tollgate, governance off unless stated)', 'Verdict'], rows);
}

/** Per round of the interleaved run: a system's median minus the Node floor's in the same round. */
function perRound(a: number[] | undefined, floor: number[] | undefined): number[] {
  if (a === undefined || floor === undefined) return [];
  return a.slice(0, floor.length).map((v, i) => v - (floor[i] as number));
}

/**
 * "+0.210 ms (per round: median +0.200, middle half +0.150 … +0.290)": the whole run's difference, and
 * the same difference taken round by round (paired in time, so steadier under load) with its spread.
 */
function overFloor(all: number | undefined, rounds: number[]): string {
  if (all === undefined || !Number.isFinite(all)) return '–';
  if (rounds.length < 4) return `${signedMs(all)} ms`;
  const s = [...rounds].sort((x, y) => x - y);
  const q = (f: number): number => s[Math.min(s.length - 1, Math.floor(f * s.length))] as number;
  return `${signedMs(all)} ms (per round: median ${signedMs(q(0.5))}, middle half ${signedMs(q(0.25))} … ${signedMs(q(0.75))})`;
}

function latencyTable(r: RunResult): string {
  const direct = r.systems.find((s) => s.id === 'direct');
  const floor = r.systems.find((s) => s.id === 'node-floor')?.latency;
  return table(
    ['System', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'added p50 ms', 'added p99 ms', 'TTFT p50 / p99 ms', 'added TTFT p50 ms', 'p50 over the Node floor', 'TTFT over the Node floor', 'samples'],
    r.systems.map((s) => {
      const l = s.latency;
      if (l === undefined) return [s.label, why(s, 'latency'), '', '', '', '', '', '', '', '', '', ''];
      const d = derive(s, direct);
      const over = floor === undefined || s.id === 'direct' || s.id === 'node-floor';
      return [
        s.label,
        ms(l.latencyUs.p50),
        ms(l.latencyUs.p90),
        ms(l.latencyUs.p99),
        ms(l.latencyUs.p999),
        signedMs(d.addedP50Us),
        signedMs(d.addedP99Us),
        `${ms(l.ttftUs.p50)} / ${ms(l.ttftUs.p99)}`,
        signedMs(d.addedTtftP50Us),
        over ? '–' : overFloor(l.latencyUs.p50 - floor.latencyUs.p50, perRound(l.roundP50Us, floor.roundP50Us)),
        over ? '–' : overFloor(l.ttftUs.p50 - floor.ttftUs.p50, perRound(l.roundTtftP50Us, floor.roundTtftP50Us)),
        `${l.latencyUs.count ?? 0} / ${l.ttftUs.count ?? 0}`,
      ];
    }),
  );
}

/** Issue 15's targets, each against the Node floor row of the same run. */
function issue15Targets(r: RunResult, cfg: BenchConfig): string {
  const floor = r.systems.find((s) => s.id === 'node-floor');
  const off = r.systems.find((s) => s.key === 'tollgate-off');
  const on = r.systems.find((s) => s.key === 'tollgate-on');
  const direct = r.systems.find((s) => s.id === 'direct');
  if (floor === undefined || off === undefined) return '_Needs the Node floor and the governance-off Tollgate row._';
  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : '**not met**');
  // The interleaved rounds decide when they ran; the sequential rows are shown beside them.
  const sequential = (t: SystemResult | undefined): number | undefined =>
    t?.throughput === undefined || floor.throughput === undefined ? undefined : t.throughput.rps / floor.throughput.rps;
  const run = r.share !== undefined && !('error' in r.share) ? r.share : undefined;
  const shareRow = (t: SystemResult | undefined, goal: number): [string, string] => {
    const seq = sequential(t);
    const seqText = seq === undefined ? 'rows one after another: –' : `rows one after another: ${(seq * 100).toFixed(1)} % (${int(t?.throughput?.rps)} vs ${int(floor.throughput?.rps)} req/s)`;
    const inTurn = run === undefined || t === undefined ? undefined : shareOf(run, floor.key, t.key);
    if (inTurn === undefined) {
      const why = r.share !== undefined && 'error' in r.share ? `; in turn: failed (${r.share.error})` : '';
      return [`${seqText}${why}`, verdict(seq === undefined ? undefined : seq >= goal)];
    }
    const rounds = inTurn.perRound.map((x) => `${(x * 100).toFixed(1)}`).join(', ');
    return [
      `**${(inTurn.ofMeans * 100).toFixed(1)} %** in turn (${int(inTurn.rowMean)} vs ${int(inTurn.floorMean)} req/s; per round ${rounds} %); ${seqText}`,
      verdict(inTurn.ofMeans >= goal),
    ];
  };
  const t = derive(off, direct);
  const coalesced =
    off.stream === undefined || direct?.stream === undefined || t.addedChunkDelayP99Us === undefined
      ? undefined
      : off.stream.streamsWithAllChunks === off.stream.streams && off.stream.coalescedChunks <= direct.stream.coalescedChunks && t.addedChunkDelayP99Us < (off.stream.intervalMs * 1000) / 2;
  const fl = floor.latency;
  const tl = off.latency;
  const p50Over = fl === undefined || tl === undefined ? undefined : tl.latencyUs.p50 - fl.latencyUs.p50;
  const ttftOver = fl === undefined || tl === undefined || (tl.ttftUs.count ?? 0) === 0 ? undefined : tl.ttftUs.p50 - fl.ttftUs.p50;
  const rows: string[][] = [
    ['Governance off: share of the Node floor\'s req/s at c=64', '≥ 60 %', ...shareRow(off, 0.6)],
    ['Governance on: share of the Node floor\'s req/s at c=64', '≥ 45 %', ...shareRow(on, 0.45)],
    ['Added p50 at c=1 over the Node floor (governance off)', '≤ 0.25 ms', overFloor(p50Over, perRound(tl?.roundP50Us, fl?.roundP50Us)), verdict(p50Over === undefined ? undefined : p50Over <= 250)],
    ['Added time to first token over the Node floor (c=1, governance off)', '≤ 0.5 ms', overFloor(ttftOver, perRound(tl?.roundTtftP50Us, fl?.roundTtftP50Us)), verdict(ttftOver === undefined ? undefined : ttftOver <= 500)],
    [
      `RSS with ${cfg.holdStreams.toLocaleString('en-US')} open streams`,
      '≤ 150 MiB',
      t.rssStreamsKiB === undefined ? '–' : `${mib(t.rssStreamsKiB)} MiB${startsText(off)}`,
      verdict(t.rssStreamsKiB === undefined || cfg.holdStreams < 1000 ? undefined : t.rssStreamsKiB / 1024 <= 150),
    ],
    [
      'Chunk timing preserved',
      'no more chunks delivered together than direct; added per-chunk delay p99 < interval/2; all chunks',
      off.stream === undefined
        ? '–'
        : `${off.stream.coalescedChunks} together (direct ${direct?.stream?.coalescedChunks ?? '–'}, Node floor ${floor.stream?.coalescedChunks ?? '–'}); added delay p99 ${signedMs(t.addedChunkDelayP99Us)} ms; ${off.stream.streamsWithAllChunks}/${off.stream.streams} complete`,
      verdict(coalesced),
    ],
  ];
  return table(['Target (issue 15)', 'Goal', 'This run', 'Verdict'], rows);
}

/** How issue 15's throughput shares were measured (a phase of its own, apart from the rows above). */
function shareMethod(r: RunResult, cfg: BenchConfig): string {
  if (r.share === undefined) return '';
  if ('error' in r.share) return `Issue 15's shares in turn: failed (${r.share.error}); its table uses the rows above.`;
  const keys = Object.keys(r.share.rps);
  const label = (key: string): string => r.systems.find((s) => s.key === key)?.label ?? key;
  const perRow = keys.map((k) => `${label(k)}: ${(r.share as ShareRun).rps[k]?.map((x) => int(x)).join(', ')}`).join('; ');
  return `Issue 15's shares come from a phase of their own: ${keys.map(label).join(', ')} started at once, each warmed up (${cfg.warmupSeconds} s at c=${cfg.throughputConcurrency}), then ${r.share.rounds} rounds in which each is measured once for ${r.share.seconds} s at c=${cfg.throughputConcurrency}, in an order changed every round so that each row follows each other row (a rotation, then the same reversed), each after a 1 s pause (only the visited one has load; the pause lets the previous one finish what it does after its load), so that every row shares the same minutes of the machine. req/s per round: ${perRow}.`;
}

function throughputTable(r: RunResult): string {
  const direct = r.systems.find((s) => s.id === 'direct');
  return table(
    ['System', 'req/s (c=64)', 'vs direct', 'p50 ms', 'p99 ms', 'errors'],
    r.systems.map((s) => {
      const t = s.throughput;
      if (t === undefined) return [s.label, why(s, 'throughput'), '', '', '', ''];
      return [s.label, int(t.rps), ratio(t.rps, direct?.throughput?.rps), ms(t.latencyUs.p50), ms(t.latencyUs.p99), String(t.errors + t.non2xx)];
    }),
  );
}

function sweepTable(r: RunResult, cfg: BenchConfig): string {
  return table(
    ['System', `highest rate with added p99 < ${cfg.sweepP99BudgetMs} ms`, 'first rate that failed', 'steps (rate: p99 ms / added ms)'],
    r.systems.map((s) => {
      const w = s.sweep;
      if (w === undefined) return [s.label, why(s, 'sweep'), '', ''];
      const steps = w.steps
        .map((x) => `${x.rate}: ${x.p99Ms.toFixed(2)}${x.addedP99Ms === undefined ? '' : ` / ${x.addedP99Ms >= 0 ? '+' : ''}${x.addedP99Ms.toFixed(2)}`}${x.pass ? '' : ' ✗'}`)
        .join('; ');
      return [
        s.label,
        w.maxRate === undefined ? 'none on the ladder' : `${int(w.maxRate)}/s`,
        w.failedAt === undefined ? '– (top of ladder)' : `${int(w.failedAt.rate)}/s: ${w.failedAt.reason}`,
        steps,
      ];
    }),
  );
}

function streamTable(r: RunResult): string {
  const direct = r.systems.find((s) => s.id === 'direct');
  return table(
    [
      'System',
      'TTFT p50 ms',
      'TTFT p99 ms',
      'added TTFT p50 ms',
      'added TTFT p99 ms',
      'chunk delay p50 / p99 ms',
      'added chunk delay p50 / p99 ms',
      'gap p50 ms (min–p99)',
      'chunks delivered together',
      'max per read',
      'complete / usage / [DONE]',
      'errors',
    ],
    r.systems.map((s) => {
      const st = s.stream;
      if (st === undefined) return [s.label, why(s, 'stream'), '', '', '', '', '', '', '', '', '', ''];
      const d = derive(s, direct);
      return [
        s.label,
        ms(st.ttftUs.p50),
        ms(st.ttftUs.p99),
        signedMs(d.streamAddedTtftP50Us),
        signedMs(d.streamAddedTtftP99Us),
        `${ms(st.chunkDelayUs.p50)} / ${ms(st.chunkDelayUs.p99)}`,
        `${signedMs(d.addedChunkDelayP50Us)} / ${signedMs(d.addedChunkDelayP99Us)}`,
        `${ms(st.gapUs.p50, 2)} (${ms(st.gapUs.min, 2)}–${ms(st.gapUs.p99, 2)})`,
        `${st.coalescedChunks} (${(st.coalescedFraction * 100).toFixed(2)}%)`,
        String(st.maxEventsPerRead),
        `${st.streamsWithAllChunks} / ${st.streamsWithUsage} / ${st.streamsWithDone} of ${st.streams}`,
        `${st.errors}${st.firstError ? `: ${st.firstError.slice(0, 80)}` : ''}`,
      ];
    }),
  );
}

/** ", the median of n fresh starts: a, b, c" when there was more than one. */
function startsText(s: SystemResult): string {
  const runs = s.memoryRuns ?? [];
  if (runs.length < 2) return '';
  return ` (median of ${runs.length} fresh starts: ${runs.map((m) => mib(m.hold?.peakRssKiB ?? m.idleRssKiB)).join(', ')})`;
}

function memoryTable(r: RunResult, cfg: BenchConfig): string {
  return table(
    ['System', 'processes', 'idle RSS MiB', `RSS with ${cfg.holdStreams} open streams MiB`, 'peak VmHWM MiB', 'streams opened', 'time to open all ms', 'errors'],
    r.systems
      .filter((s) => s.id !== 'direct')
      .map((s) => {
        const m = s.memory;
        if (m === undefined) return [s.label, why(s, 'memory'), '', '', '', '', '', ''];
        const h = m.hold;
        return [
          s.label,
          String(m.processes),
          mib(m.idleRssKiB),
          `${mib(h?.peakRssKiB)}${startsText(s)}`,
          mib(m.peakHwmKiB),
          h === undefined ? '–' : `${h.opened}/${h.requested}`,
          h === undefined ? '–' : int(h.openMs),
          h === undefined ? (s.scenarioErrors.memory ?? '–') : `${h.errors}${h.firstError ? `: ${h.firstError.slice(0, 80)}` : ''}`,
        ];
      }),
  );
}

function ratioTables(r: RunResult): string {
  const direct = r.systems.find((s) => s.id === 'direct');
  const peers = r.systems.filter((s) => s.id !== 'tollgate');
  const out: string[] = [];
  for (const tg of r.systems.filter((s) => s.id === 'tollgate')) {
    const t = derive(tg, direct);
    const rows: string[][] = [];
    const row = (metric: string, f: (peer: SystemResult) => string): void => {
      rows.push([metric, ...peers.map(f)]);
    };
    row('Added latency p50 at c=1 (lower is better; vs direct: total latency ratio)', (p) =>
      p.id === 'direct' ? ratio(tg.latency?.latencyUs.p50, p.latency?.latencyUs.p50) : addedRatio(t.addedP50Us, derive(p, direct).addedP50Us),
    );
    row('Added latency p99 at c=1 (lower is better; vs direct: total)', (p) =>
      p.id === 'direct' ? ratio(tg.latency?.latencyUs.p99, p.latency?.latencyUs.p99) : addedRatio(t.addedP99Us, derive(p, direct).addedP99Us),
    );
    row('Throughput at c=64 (higher is better)', (p) => ratio(tg.throughput?.rps, p.throughput?.rps));
    row('Highest rate with added p99 < budget (higher is better)', (p) => (p.id === 'direct' ? '–' : ratio(tg.sweep?.maxRate, p.sweep?.maxRate)));
    row('Added TTFT p50 at c=1 (lower is better; vs direct: total)', (p) =>
      p.id === 'direct' ? ratio(tg.latency?.ttftUs.p50, p.latency?.ttftUs.p50) : addedRatio(t.addedTtftP50Us, derive(p, direct).addedTtftP50Us),
    );
    row('RSS with open streams (lower is better)', (p) => (p.id === 'direct' ? '–' : ratio(t.rssStreamsKiB, derive(p, direct).rssStreamsKiB)));
    out.push(`**${tg.label}** vs …\n\n${table(['Metric', ...peers.map((p) => p.label)], rows)}`);
  }
  return out.join('\n\n');
}

function compileSection(r: RunResult): string {
  if (r.compile === undefined) return '_Not run._';
  if ('error' in r.compile) return `Failed: ${r.compile.error}`;
  const rows = r.compile.results.map((c) => [
    int(c.routes),
    String(c.providers),
    `${(c.yamlBytes / 1024).toFixed(0)} KiB`,
    c.loadMs.toFixed(1),
    c.compileMs.median.toFixed(1),
    c.compileMs.min.toFixed(1),
    c.compileMs.max.toFixed(1),
    String(c.compileMs.runs),
    `${(c.snapshotBytes / 1024).toFixed(0)} KiB`,
    String(c.rejected),
  ]);
  rows.push(['kubectl apply → served (1 and 20 data planes)', '–', 'measured separately: `make bench-apply` (bench/results/apply-to-served-<date>.md)', '', '', '', '', '', '', '']);
  return table(['ModelRoutes', 'Providers', 'YAML', 'load + validate ms', 'compile median ms', 'min', 'max', 'runs', 'snapshot JSON', 'rejected'], rows);
}

function profileSection(r: RunResult): string {
  if (r.profiles.length === 0) return '_No profile in this run._';
  return r.profiles
    .map((p) => {
      if (p.summary === undefined) return `### ${p.name}\n\nFailed: ${p.error ?? 'no profile written'}`;
      const s = p.summary;
      const pct = (n: number): string => `${n.toFixed(1)}%`;
      return [
        `### ${p.name}`,
        '',
        `${p.workload}. Start-up and warm-up left out: ${(s.durationMs / 1000).toFixed(1)} s under load, ${s.samples} samples, idle ${pct(s.idlePct)}; percentages are of busy (non-idle) time. Raw: \`${p.file}\`.`,
        '',
        'Where the time goes (self time by group):',
        '',
        table(['Group', 'self'], s.groups.map((g) => [g.name, pct(g.selfPct)])),
        '',
        'By area: self time, and inclusive time (the area or anything it called):',
        '',
        table(['Area', 'self', 'inclusive'], s.areas.slice(0, 14).map((a) => [a.name, pct(a.selfPct), pct(a.totalPct ?? 0)])),
        '',
        'Top functions (self time):',
        '',
        table(['Function', 'Where', 'self'], s.topSelf.slice(0, 15).map((e) => [e.name, e.where, pct(e.selfPct)])),
        '',
        "Tollgate's own functions (inclusive time):",
        '',
        table(['Function', 'Where', 'self', 'total'], s.tollgateTotal.slice(0, 15).map((e) => [e.name, e.where, pct(e.selfPct), pct(e.totalPct ?? 0)])),
      ].join('\n');
    })
    .join('\n\n');
}

function c1Method(r: RunResult): string {
  const c = r.c1;
  // Only runs from before this method lack it: their c=1 rows came from wrk, one system after another.
  if (c === undefined) return '_This run measured c=1 with wrk, one system after another (before the interleaved method): no TTFT at c=1, no rounds._';
  if ('error' in c) return `Failed: ${c.error}`;
  return `All systems run at once; one client (\`loadgen c1\`, a raw kept-alive socket per system, on the client core) visits them in turn, ${c.rounds} rounds, in a fresh (seeded) random order every round and after a 30 ms pause (so what one system leaves running on the shared gateway core does not always fall on the same neighbour). A visit is ${c.block} non-streaming requests back to back (a closed loop at concurrency 1, as wrk -c1 runs it: work a system leaves for after its answer delays its next request), then ${c.streamBlock} streams of \`${c.streamModel}\` back to back; the first request and the first stream of each visit are not counted (they pay for switching from the previous system). ${c.seconds.toFixed(0)} s in all. Whatever else the machine does in a given second falls on every row alike. "Added" = minus direct's percentile; "over the Node floor" = minus the floor's, and the same difference round by round (each round's median minus the floor's in the same round: paired in time, the steadier figure under load), its median and middle half. TTFT = request sent → first content chunk read.`;
}

export function renderReport(r: RunResult, cfg: BenchConfig): string {
  const m = r.machine;
  const minutes = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 60000;
  const failed = r.systems.filter((s) => s.error !== undefined || Object.keys(s.scenarioErrors).length > 0);
  return `# Benchmark run ${r.runId}

Generated by \`make bench\` (bench/run.ts)${cfg.quick ? ' in **quick mode** (BENCH_QUICK=1): short runs, numbers are indicative only' : ''}.
Started ${r.startedAt}, took ${minutes.toFixed(1)} min.

## Machine and its state during the run

- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; ${m.os}; kernel ${m.kernel}.
- Pinning: the measured gateway on core ${cfg.gatewayCore} (\`taskset -c ${cfg.gatewayCore}\`); the emulator, the load generators and the harness on core ${cfg.clientCore}. Same for every system.
- Scheduling priority of everything the harness started: ${cfg.nice === 0 ? 'normal (nice 0)' : `nice ${cfg.nice} (BENCH_NICE), so that other work on this shared machine preempts the measurement less`}.
- Load average (1/5/15 min) and other processes using ≥ 20% of a core, sampled during the run:

${table(
  ['When', 'Phase', 'Load average', 'Other busy processes'],
  r.loads.map((l) => [l.at.slice(11, 19), l.phase, l.load, l.busy.length === 0 ? 'none' : l.busy.join('; ')]),
)}

## Versions

${table(
  ['Component', 'Version'],
  [...Object.entries(m.tools).map(([k, v]) => [k, v]), ...r.systems.map((s) => [s.label, s.version ?? `unavailable: ${s.error ?? ''}`])],
)}

## Targets from issue 8 (reported, not asserted)

${targets(r, cfg)}

## Targets from issue 15, against the Node floor of this run (reported, not asserted)

${issue15Targets(r, cfg)}

## Latency and time to first token at concurrency 1 (every system interleaved)

${c1Method(r)}

${latencyTable(r)}

## Throughput at concurrency 64 (wrk, 64 connections, ${cfg.throughputSeconds} s after warm-up)

The gateway has one core; direct is limited by the client core (emulator and wrk share it).

${throughputTable(r)}

${shareMethod(r, cfg)}

## Highest constant rate with added p99 < ${cfg.sweepP99BudgetMs} ms

Open-loop constant rate (loadgen rate, up to 256 connections, ${cfg.sweepSeconds} s per step after ${cfg.sweepWarmupSeconds} s at the same rate); latency counted from the scheduled send time (wrk2-style, so queueing counts). Added p99 = the system's p99 minus direct's p99 at the same rate. A step fails on any error, on < 95% of the target rate achieved, or on added p99 ≥ budget. Direct's own row uses its absolute p99: it is the ceiling of the client core.

${sweepTable(r, cfg)}

## Streaming: time to first token and chunk timing

${cfg.streamCount} streams (${cfg.streamConcurrency} at a time) of ${cfg.streamChunks} chunks, ${cfg.streamIntervalMs} ms apart, with \`stream_options.include_usage\`. TTFT = request sent → first content chunk parsed at the client. Each chunk carries the time the emulator wrote it, so "chunk delay" = arrival at the client − write time at the emulator (same clock); buffering or batching in a proxy shows up there. "Chunks delivered together" counts content chunks that arrived in the same socket read as an earlier one; direct's own count is the noise floor of this machine.

${streamTable(r)}

## Memory (fresh process per system)

Idle = VmRSS after start and a one-second trickle of requests. Then ${cfg.holdStreams} streams (1 chunk/s) are opened over a short ramp and held ${cfg.holdSeconds} s while VmRSS of the process tree is sampled every 200 ms; VmHWM is the kernel's peak for that process.${cfg.memoryStarts > 1 ? ` Each system is started fresh ${cfg.memoryStarts} times; a row is the start with the median RSS under open streams (all starts in brackets).` : ''}

${memoryTable(r, cfg)}

## Ratios

Each Tollgate row against every other system. "–" where a number is missing or where one side added nothing measurable (an added amount ≤ 0 is noise, and a ratio of it means nothing).

${ratioTables(r)}

## Control plane: compile time

Generated ModelRoutes (two failover targets each) over up to 50 openai-compatible Providers in 10 namespaces; YAML → \`loadManifests\` (parse + zod validation, timed once) → \`compile()\` (timed ${cfg.compileRepeats}×, after a warm-up), pinned to core ${cfg.gatewayCore}.

${compileSection(r)}

## CPU profiles of Tollgate (node --cpu-prof)

${profileSection(r)}

## Not measured, and why

- **kubectl apply → first request served (1 and 20 data planes)**: needs a real API server, the operator and N data-plane processes in a private network namespace; measured by its own script, \`make bench-apply\` (bench/apply-to-served.ts), report in bench/results/apply-to-served-<date>.md.
${failed.length === 0 ? '- Every system and scenario ran.' : failed.map((s) => `- **${s.label}**: ${s.error ?? Object.entries(s.scenarioErrors).map(([k, v]) => `${k}: ${v}`).join('; ')}`).join('\n')}

## Notes per system

${r.systems.map((s) => `- **${s.label}**: ${s.notes.join(' ')}`).join('\n')}

## Commands

${r.commands.map((c) => `- \`${c}\``).join('\n')}

Raw JSON, logs and profiles: \`${cfg.rawDir.slice(cfg.repoRoot.length + 1)}/\` (not committed).
`;
}
