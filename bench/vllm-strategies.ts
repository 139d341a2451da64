/**
 * Pod selection on an emulated vLLM fleet (issue 9): queueing delay and completion time for round
 * robin and for each `podSelection` strategy, under skewed load (one slow pod, repeated system
 * prompts with a small prefix cache per pod, LoRA adapters with few slots).
 *
 * One data-plane process (`tollgate dataplane --snapshot`, compiled here with the pods as the
 * operator would resolve them from an EndpointSlice) in front of four test/emulators/vllm.ts pods on
 * 127.0.0.1. The same seeded open-loop arrival schedule and request mix is replayed against one route
 * per strategy. Round robin is an openai-compatible Provider over the same Service (round robin
 * over its endpoints); the strategies are a vllm Provider. Loopback only; bounded; stops by itself.
 *
 *   make bench-vllm                  # report in bench/results/vllm-strategies-<date>.md
 *   VLLM_BENCH_SECONDS=5 make bench-vllm   # shorter run (report under bench/results/raw/)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { wireJson } from '../dataplane/config/secret-value.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { compile } from '../operator/compile/compile.js';
import { loadManifests } from '../operator/sources/manifest-loader.js';
import { type ServedRequest, startVllmEmulator, type VllmEmulator, type VllmPodControls } from '../test/emulators/vllm.js';
import { seededRandom as prng } from '../test/support/seeded-random.js';

const SECONDS = Number(process.env.VLLM_BENCH_SECONDS ?? '15');
const RATE = Number(process.env.VLLM_BENCH_RATE ?? '20'); // requests per second, Poisson arrivals
const SEED = Number(process.env.VLLM_BENCH_SEED ?? '9');
const HARD_LIMIT_MS = 5 * 60_000;
const DRAIN_LIMIT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 60_000;
const CLI = join(process.cwd(), 'dist/cli/tollgate.js');
const BASE_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const ADAPTERS = ['sql-lora', 'chat-lora', 'summ-lora'];
const MODELS = [BASE_MODEL, ...ADAPTERS];
const SYSTEM_PROMPTS = 12;

/** The fleet: four pods with two engine slots each; pod 0 is three times slower. */
const FLEET: Partial<VllmPodControls>[] = [0, 1, 2, 3].map((i) => ({
  maxRunning: 2,
  latencyMs: i === 0 ? 450 : 150,
  prefixMissMs: 100,
  prefixCacheSize: 4,
  loraMissMs: 150,
  kvCacheUsage: 0.3,
}));
/** Adapters running at the start of each run (max 2 per pod; a missing one loads into a free slot). */
const LORA_START: string[][] = [['sql-lora'], ['chat-lora'], [], ['summ-lora']];

const STRATEGIES = [
  { key: 'rr', label: 'round robin (baseline)', provider: 'llama-rr', podSelection: undefined },
  { key: 'qa', label: 'QueueAware', provider: 'llama', podSelection: 'QueueAware' },
  { key: 'lo', label: 'LeastOutstanding', provider: 'llama', podSelection: 'LeastOutstanding' },
  { key: 'px', label: 'PrefixAffinity (loadBound 1.25)', provider: 'llama', podSelection: 'PrefixAffinity' },
  { key: 'lora', label: 'LoRAAffinity', provider: 'llama', podSelection: 'LoRAAffinity' },
] as const;

const routeName = (strategy: string, model: string): string => `${strategy}-${model === BASE_MODEL ? 'base' : model}`;

function manifests(): string {
  const docs = [
    `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: llama }
spec:
  type: vllm
  serviceRef: { name: llama, port: 8000 }
  vllm:
    scrape: { interval: 200ms, timeout: 150ms, staleAfter: 2s }
    saturation: { maxQueueDepth: 16, maxKvCacheUsage: 0.95 }
`,
    `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: llama-rr }
spec:
  type: openai-compatible
  serviceRef: { name: llama, port: 8000 }
`,
  ];
  for (const s of STRATEGIES) {
    for (const m of MODELS) {
      docs.push(`apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${routeName(s.key, m)} }
spec:
  model: ${routeName(s.key, m)}
  access: { anonymous: true }
  retry: { attempts: 1 }
  timeouts: { total: 60s }
${s.podSelection === undefined ? '' : `  podSelection: { strategy: ${s.podSelection} }\n`}  targets: [{ providerRef: { name: ${s.provider} }, model: ${m} }]
`);
    }
  }
  return docs.join('---\n');
}

interface Planned {
  at: number;
  model: string;
  prompt: number;
  user: string;
}

/** Poisson arrivals; Zipf-like choice among the system prompts (prompt k with weight 1/(k+1)); 60% base model, 40% one of the adapters. */
function schedule(): Planned[] {
  const rnd = prng(SEED);
  const weights = Array.from({ length: SYSTEM_PROMPTS }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const pickPrompt = (): number => {
    let x = rnd() * total;
    for (let k = 0; k < weights.length; k++) {
      x -= weights[k] ?? 0;
      if (x <= 0) return k;
    }
    return weights.length - 1;
  };
  const out: Planned[] = [];
  let t = 0;
  for (;;) {
    t += (-Math.log(1 - rnd()) / RATE) * 1000;
    if (t >= SECONDS * 1000) break;
    const m = rnd() < 0.6 ? BASE_MODEL : (ADAPTERS[Math.floor(rnd() * ADAPTERS.length)] ?? BASE_MODEL);
    out.push({ at: t, model: m, prompt: pickPrompt(), user: `question ${out.length}: ${rnd().toString(36).slice(2)}` });
  }
  return out;
}

const systemPrompt = (run: string, k: number): string =>
  `[${run}] You are assistant #${k} of ACME. Follow the house style guide. ${`Policy paragraph ${k}: be brief, cite sources, never guess. `.repeat(20)}`;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
const mean = (xs: number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

interface RunResult {
  key: string;
  label: string;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  completion: { p50: number; p95: number; p99: number; mean: number; max: number };
  queueing: { mean: number; p50: number; p95: number; p99: number; max: number };
  maxQueue: number;
  meanQueue: number;
  perPod: number[];
  slowShare: number;
  prefixHitRate: number;
  loraLoads: number;
  wallMs: number;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function startGateway(snapshotFile: string, port: number): ChildProcess {
  const args = [CLI, 'dataplane', '--host', '127.0.0.1', '--port', String(port), '--snapshot', snapshotFile, '--log-level', 'warn'];
  const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length > 1;
  const child = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return child;
}

async function waitReady(url: string): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 20_000) {
    try {
      const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(1000) });
      await res.text();
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error('the data plane did not start within 20 s');
}

async function run(strategy: (typeof STRATEGIES)[number], plan: Planned[], pods: VllmEmulator[], url: string): Promise<RunResult> {
  const tag = `${strategy.key}-${Date.now()}`;
  for (const [i, p] of pods.entries()) p.set({ ...FLEET[i], lora: { running: [...(LORA_START[i] ?? [])], waiting: [], maxLora: 2 } });
  await sleep(1000); // a few scrapes of the idle fleet
  const before = pods.map((p) => p.served.length);
  let maxQueue = 0;
  let queueSum = 0;
  let queueSamples = 0;
  const sampler = setInterval(() => {
    for (const p of pods) maxQueue = Math.max(maxQueue, p.waiting);
    queueSum += pods.reduce((s, p) => s + p.waiting, 0) / pods.length;
    queueSamples++;
  }, 10);
  const completion: number[] = [];
  const errors: Record<string, number> = {};
  const started = Date.now();
  const inflight: Promise<void>[] = [];
  for (const req of plan) {
    const wait = started + req.at - Date.now();
    if (wait > 0) await sleep(wait);
    const sentAt = performance.now();
    inflight.push(
      (async () => {
        try {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              model: routeName(strategy.key, req.model),
              max_tokens: 16,
              messages: [
                { role: 'system', content: systemPrompt(tag, req.prompt) },
                { role: 'user', content: req.user },
              ],
            }),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          await res.arrayBuffer();
          if (res.status === 200) completion.push(performance.now() - sentAt);
          else errors[`HTTP ${res.status}`] = (errors[`HTTP ${res.status}`] ?? 0) + 1;
        } catch (err) {
          const name = (err as Error).name;
          errors[name] = (errors[name] ?? 0) + 1;
        }
      })(),
    );
  }
  await Promise.race([Promise.all(inflight), sleep(DRAIN_LIMIT_MS)]);
  clearInterval(sampler);
  const wallMs = Date.now() - started;
  const served: ServedRequest[][] = pods.map((p, i) => p.served.slice(before[i] ?? 0));
  const all = served.flat();
  const queued = all.map((s) => s.queuedMs ?? 0).sort((a, b) => a - b);
  const done = [...completion].sort((a, b) => a - b);
  const perPod = served.map((s) => s.length);
  const withSystem = all.filter((s) => s.prefixHit !== undefined);
  const unfinished = plan.length - completion.length - Object.values(errors).reduce((a, b) => a + b, 0);
  if (unfinished > 0) errors['unfinished at drain limit'] = unfinished;
  return {
    key: strategy.key,
    label: strategy.label,
    sent: plan.length,
    ok: completion.length,
    errors,
    completion: { p50: quantile(done, 0.5), p95: quantile(done, 0.95), p99: quantile(done, 0.99), mean: mean(done), max: done.at(-1) ?? Number.NaN },
    queueing: { mean: mean(queued), p50: quantile(queued, 0.5), p95: quantile(queued, 0.95), p99: quantile(queued, 0.99), max: queued.at(-1) ?? Number.NaN },
    maxQueue,
    meanQueue: queueSamples === 0 ? 0 : queueSum / queueSamples,
    perPod,
    slowShare: all.length === 0 ? 0 : (perPod[0] ?? 0) / all.length,
    prefixHitRate: withSystem.length === 0 ? 0 : withSystem.filter((s) => s.prefixHit === true).length / withSystem.length,
    loraLoads: all.filter((s) => s.loraLoad === true).length,
    wallMs,
  };
}

const ms = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(0));
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

function report(results: RunResult[], meta: { startedAt: string; loadBefore: string; loadAfter: string; durationS: number; requests: number }): string {
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}`;
  const lines = [
    `# vLLM pod selection: round robin vs strategies (${meta.startedAt})`,
    '',
    `- Command: \`make bench-vllm\` (\`node --import tsx bench/vllm-strategies.ts\`; VLLM_BENCH_SECONDS=${SECONDS}, VLLM_BENCH_RATE=${RATE}, VLLM_BENCH_SEED=${SEED})`,
    `- Machine: ${machine}; shared with other work (load average ${meta.loadBefore} before, ${meta.loadAfter} after). Wall time ${meta.durationS.toFixed(0)} s.`,
    `- Commit: ${spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'unknown'}${spawnSync('git', ['status', '--porcelain', '--', 'dataplane', 'operator', 'cli'], { encoding: 'utf8' }).stdout.trim() === '' ? '' : ' (with uncommitted changes in dataplane/operator/cli)'}`,
    '',
    '## Setup',
    '',
    '- One data-plane process (`tollgate dataplane --snapshot`, pinned to core 0 when taskset works), snapshot compiled with four pod addresses on 127.0.0.1 as the operator resolves them from an EndpointSlice.',
    '- Four `test/emulators/vllm.ts` pods, each with 2 engine slots (`maxRunning`; the rest wait in FIFO order and show in `vllm:num_requests_waiting`). Service time 150 ms; **pod 0 is slow: 450 ms**. A request whose system prompt is not among the pod\'s 4 most recent ones pays +100 ms (prefix-cache miss); one for an adapter the pod is not running pays +150 ms (adapter load, kept when a slot of `max_lora` 2 is free). Adapters at start: pod 0 sql-lora, pod 1 chat-lora, pod 2 none, pod 3 summ-lora.',
    `- Load: open loop, Poisson arrivals at ${RATE}/s for ${SECONDS} s (${meta.requests} requests), the same seeded schedule for every row. ${SYSTEM_PROMPTS} system prompts of ~1.2 KB chosen Zipf-like (prompt k with weight 1/(k+1)); 60% base model, 40% one of three adapters. Caches start cold for each row (prompts tagged per row).`,
    '- Provider: scrape every 200 ms (timeout 150 ms, stale after 2 s), saturation at queue > 16 or KV ≥ 0.95; route retry attempts 1, total timeout 60 s. Round robin is an `openai-compatible` Provider over the same Service (round robin over endpoints).',
    '- Queueing delay: time a request waited at its pod for an engine slot (measured in the emulator). Completion time: client send to last byte (includes the gateway). Queue depth: waiting requests per pod sampled every 10 ms.',
    '',
    '## Results',
    '',
    '| Strategy | ok / sent | errors | queueing mean | queueing p95 | queueing max | max queue (any pod) | mean queue per pod | completion p50 | completion p95 | completion p99 | completion max | requests per pod (0 = slow) | prefix-cache hits | adapter loads |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const errs = Object.entries(r.errors).map(([k, v]) => `${v} ${k}`).join(', ') || '0';
    lines.push(
      `| ${r.label} | ${r.ok} / ${r.sent} | ${errs} | ${ms(r.queueing.mean)} ms | ${ms(r.queueing.p95)} ms | ${ms(r.queueing.max)} ms | ${r.maxQueue} | ${r.meanQueue.toFixed(2)} | ${ms(r.completion.p50)} ms | ${ms(r.completion.p95)} ms | ${ms(r.completion.p99)} ms | ${ms(r.completion.max)} ms | ${r.perPod.join(' / ')} (slow ${pct(r.slowShare)}) | ${pct(r.prefixHitRate)} | ${r.loraLoads} |`,
    );
  }
  lines.push(
    '',
    'One run on a shared machine: compare rows with each other, not with other machines. Numbers are reported, never asserted in tests.',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  let gateway: ChildProcess | undefined;
  const hardStop = setTimeout(() => {
    console.error(`vllm-strategies: hard limit of ${HARD_LIMIT_MS / 1000} s reached; stopping`);
    gateway?.kill('SIGKILL');
    process.exit(2);
  }, HARD_LIMIT_MS);
  hardStop.unref();
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const t0 = Date.now();
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ');
  const pods = await Promise.all(FLEET.map(() => startVllmEmulator({ model: BASE_MODEL, host: '127.0.0.1' })));
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-vllm-bench-'));
  try {
    const loaded = loadManifests([{ path: 'vllm-bench.yaml', content: manifests() }]);
    if (loaded.errors.length > 0) throw new Error(`manifests: ${JSON.stringify(loaded.errors)}`);
    const endpoints = [{ namespace: 'default', service: 'llama', port: 8000, addresses: pods.map((p) => ({ ip: p.host, port: p.port, ready: true })) }];
    const { snapshot, statuses } = compile({ ...loaded.input, endpoints });
    const bad = statuses.flatMap((s) => s.conditions.filter((c) => c.status === 'False').map((c) => `${s.kind} ${s.name}: ${c.reason} ${c.message}`));
    if (bad.length > 0) throw new Error(`compile: ${bad.join('; ')}`);
    const snapshotFile = join(dir, 'snapshot.json');
    writeFileSync(snapshotFile, wireJson(snapshot)); // the wire form: credentials in clear, as the data plane needs them
    const port = await freePort();
    gateway = startGateway(snapshotFile, port);
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);

    const plan = schedule();
    // Warm-up: the gateway's code paths and connections, not the pods' caches (other prompts).
    await Promise.all(Array.from({ length: 40 }, (_, i) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: routeName(STRATEGIES[i % STRATEGIES.length]?.key ?? 'rr', BASE_MODEL), messages: [{ role: 'user', content: `warm-up ${i}` }] }),
      }).then((r) => r.arrayBuffer()),
    ));
    const results: RunResult[] = [];
    for (const s of STRATEGIES) {
      const r = await run(s, plan, pods, url);
      console.error(`${s.label}: ${r.ok}/${r.sent} ok, queueing mean ${ms(r.queueing.mean)} ms p95 ${ms(r.queueing.p95)} ms, completion p50 ${ms(r.completion.p50)} p99 ${ms(r.completion.p99)} ms, max queue ${r.maxQueue}, per pod ${r.perPod.join('/')}`);
      results.push(r);
    }
    const text = report(results, { startedAt, loadBefore, loadAfter: loadavg().map((x) => x.toFixed(2)).join(' '), durationS: (Date.now() - t0) / 1000, requests: plan.length });
    const full = SECONDS >= 15 && process.env.VLLM_BENCH_RATE === undefined && process.env.VLLM_BENCH_SEED === undefined;
    const outDir = full ? 'bench/results' : 'bench/results/raw';
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `vllm-strategies-${startedAt.slice(0, 10)}.md`);
    writeFileSync(out, text);
    process.stdout.write(`${text}\nreport: ${out}\n`);
  } finally {
    if (gateway !== undefined && gateway.exitCode === null) {
      const exited = once(gateway, 'exit');
      gateway.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (gateway.exitCode === null) gateway.kill('SIGKILL');
    }
    await Promise.all(pods.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
