/**
 * Where "chunks delivered together" comes from: the streaming scenario's shape (N streams, 4 at a
 * time, 20 chunks 10 ms apart), with direct, the Node floor and Tollgate visited in turn each round,
 * and for every pair of chunks that arrived in one socket read at the client, when the emulator wrote
 * each, when the gateway wrote each to its client (bench/lib/write-probe.mjs, a preload recording
 * ServerResponse writes, GCs and event-loop turns that started late) and whether a GC or a late
 * turn of the gateway overlapped.
 *   taskset -c 1 node --import tsx bench/chunk-coalescing.ts <tollgate root> [rounds=3] [streams=200]
 * The client is this process (raw sockets, one read = one 'data' event), on the client core as the
 * harness is; the gateways on the gateway core.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { floorAndTollgateConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { systemsFor, type RunningSystem } from './lib/systems.js';

const [rootArg, roundsArg, streamsArg] = process.argv.slice(2);
if (rootArg === undefined) throw new Error('usage: chunk-coalescing.ts <tollgate root> [rounds] [streams]');
const rounds = Number(roundsArg ?? 3);
const streamCount = Number(streamsArg ?? 200);
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cfg = floorAndTollgateConfig(repoRoot, rootArg, 'off');
mkdirSync(cfg.rawDir, { recursive: true });
const MODEL = 'emu-c20-i10';
const now = (): number => performance.timeOrigin + performance.now();

interface Together {
  /** Client read time (ms since the epoch). */
  at: number;
  /** Emulator write times of the chunks in that read (ms since the epoch). */
  emitted: number[];
}

/** One stream on a fresh connection; returns the reads that carried more than one chunk. */
function oneStream(url: URL, headers: string[]): Promise<{ chunks: number; together: Together[] }> {
  return new Promise((ok, fail) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32, stream: true, stream_options: { include_usage: true } });
    let tail = '';
    let chunks = 0;
    const together: Together[] = [];
    socket.on('data', (buf: Buffer) => {
      const at = now();
      const text = tail + buf.toString('latin1');
      const emitted: number[] = [];
      let end = 0;
      for (const m of text.matchAll(/tok(\d+)@(\d+)/g)) {
        emitted.push(Number(BigInt(m[2] as string) / 1000n) / 1000);
        end = (m.index ?? 0) + m[0].length;
      }
      tail = text.slice(Math.max(end, text.length - 64));
      chunks += emitted.length;
      if (emitted.length > 1) together.push({ at, emitted });
      if (text.includes('[DONE]')) socket.end();
    });
    socket.once('error', fail);
    socket.once('close', () => ok({ chunks, together }));
    socket.write([`POST ${url.pathname} HTTP/1.1`, `host: ${url.host}`, 'content-type: application/json', 'connection: close', ...headers, `content-length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
  });
}

async function scenario(sys: { url: string; headers: string[] }, count = streamCount): Promise<{ chunks: number; together: Together[] }> {
  const url = new URL(sys.url);
  for (let i = 0; i < 5; i++) await oneStream(url, sys.headers);
  let next = 0;
  let chunks = 0;
  const together: Together[] = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        next++;
        const r = await oneStream(url, sys.headers);
        chunks += r.chunks;
        together.push(...r.together);
      }
    }),
  );
  return { chunks, together };
}

interface ProbeLine {
  w?: number;
  ns?: string;
  gc?: number;
  stall?: number;
  ms?: number;
  kind?: number;
  cpu?: number;
}

function probe(file: string): { writes: Map<number, number>; pauses: { from: number; ms: number; what: string }[] } {
  const writes = new Map<number, number>();
  const pauses: { from: number; ms: number; what: string }[] = [];
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { writes, pauses };
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const p = JSON.parse(line) as ProbeLine;
    if (p.w !== undefined && p.ns !== undefined) writes.set(Number(BigInt(p.ns) / 1000n) / 1000, p.w);
    else if (p.gc !== undefined) pauses.push({ from: p.gc, ms: p.ms ?? 0, what: `gc kind ${p.kind}` });
    else if (p.stall !== undefined) pauses.push({ from: p.stall, ms: p.ms ?? 0, what: (p.cpu ?? 0) >= 0.5 ? 'late turn, busy' : 'late turn, not running' });
  }
  return { writes, pauses };
}

const INTERVAL_MS = 10;

/**
 * Why chunks of one read came together, judged on the earliest two: the emulator wrote them less than
 * half an interval apart (its own lateness); the gateway wrote the first more than half an interval
 * after the emulator did (held up in the gateway: during a GC, during another late event-loop turn,
 * or neither); or the gateway wrote on time and the client read late (the client's core).
 */
function causeOf(t: Together, p: ReturnType<typeof probe> | undefined): string {
  const [a, b] = [...t.emitted].sort((x, y) => x - y) as [number, number];
  if (b - a < INTERVAL_MS / 2) return 'emulator wrote them together';
  if (p === undefined) return 'client read late';
  const w = p.writes.get(a);
  if (w === undefined) return 'no gateway write seen';
  if (w - a <= INTERVAL_MS / 2) return 'client read late';
  const during = p.pauses.filter((q) => q.from <= w && q.from + q.ms >= a);
  if (during.some((q) => q.what.startsWith('gc'))) return 'gateway late: GC';
  if (during.some((q) => q.what === 'late turn, busy')) return 'gateway late: busy (own work)';
  if (during.length > 0) return 'gateway late: not running (core taken)';
  return 'gateway late: no pause seen';
}

const { emulator, port: upstreamPort } = await startEmulator(cfg);
const started: { key: string; sys: RunningSystem | { url: string; headers: string[]; stop: () => Promise<void> }; probeFile?: string }[] = [];
started.push({ key: 'direct', sys: { url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`, headers: [], stop: async () => undefined } });
try {
  for (const def of systemsFor(cfg).filter((d) => d.id === 'node-floor' || d.id === 'tollgate')) {
    const probeFile = join(cfg.rawDir, `write-probe-${def.key}.jsonl`);
    rmSync(probeFile, { force: true });
    process.env.WRITE_PROBE_FILE = probeFile;
    const sys = await def.start({ cfg, upstreamPort, models: ['emu', MODEL], tag: 'coalescing', nodeFlags: ['--import', join(repoRoot, 'bench/lib/write-probe.mjs')] });
    started.push({ key: def.key, sys, probeFile });
  }
  delete process.env.WRITE_PROBE_FILE;
  // Unmeasured: V8 compiles the stream path in a gateway's first streams.
  for (const s of started) await scenario(s.sys, 40);
  const results = new Map<string, { chunks: number; together: Together[] }>();
  for (let r = 0; r < rounds; r++) {
    const line: string[] = [];
    for (const s of started) {
      const res = await scenario(s.sys);
      const all = results.get(s.key) ?? { chunks: 0, together: [] };
      all.chunks += res.chunks;
      all.together.push(...res.together);
      results.set(s.key, all);
      line.push(`${s.key} ${res.together.reduce((n, t) => n + t.emitted.length - 1, 0)}/${res.chunks}`);
    }
    process.stdout.write(`round ${r + 1}: ${line.join(', ')}\n`);
  }
  await new Promise((ok) => setTimeout(ok, 1500));
  for (const s of started) {
    const res = results.get(s.key);
    if (res === undefined) continue;
    const n = res.together.reduce((k, t) => k + t.emitted.length - 1, 0);
    process.stdout.write(`\n${s.key}: ${n} of ${res.chunks} chunks delivered together\n`);
    const p = s.probeFile === undefined ? undefined : probe(s.probeFile);
    const causes = new Map<string, number>();
    for (const t of res.together) {
      const cause = causeOf(t, p);
      causes.set(cause, (causes.get(cause) ?? 0) + t.emitted.length - 1);
    }
    process.stdout.write(`  by cause: ${[...causes].map(([c, k]) => `${c} ${k}`).join(', ') || 'none'}\n`);
    if (process.env.COALESCING_DETAIL !== '1') continue;
    for (const t of res.together) {
      const parts = t.emitted.map((e, i) => {
        const w = p?.writes.get(e);
        const late = (t.at - e).toFixed(2);
        return `chunk ${i}: emulator→client ${late} ms${w === undefined ? '' : `, emulator→gateway write ${(w - e).toFixed(2)} ms, gateway write→client read ${(t.at - w).toFixed(2)} ms`}`;
      });
      const first = Math.min(...t.emitted);
      const overlapping = p?.pauses.filter((q) => q.from <= t.at && q.from + q.ms >= first - 1).map((q) => `${q.what} ${q.ms.toFixed(1)} ms at +${(q.from - first).toFixed(1)}`) ?? [];
      process.stdout.write(`  read at ${new Date(t.at).toISOString()}: ${parts.join('; ')}${overlapping.length > 0 ? `; gateway: ${overlapping.join(', ')}` : ''}\n`);
    }
  }
} finally {
  for (const s of started) await s.sys.stop();
  await emulator.stop();
}
