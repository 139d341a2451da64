/**
 * Guardrail cost (issue 17), A/B in one run: the same gateway (`tollgate dev`, in process) and the
 * same local upstream serve two routes, `plain` (no policy) and `guarded` (a GuardrailPolicy with
 * every built-in detector on requests and an e-mail mask on answers, holdBackChars 128); a third,
 * `guarded-0`, has the same rules with holdBackChars 0. Requests alternate between the routes, so
 * both sides see the same machine load.
 *
 *   1. engine: the request rules alone (ActiveGuardrails.checkRequest) on a 10 KB prompt, p50/p90;
 *   2. request: end-to-end latency of a non-streamed 10 KB prompt, plain vs guarded;
 *   3. stream: time to the first content token, plain vs guarded-0 vs guarded, with an upstream that
 *      streams 8 characters every CHUNK_MS; the window's bound is the time the upstream takes to
 *      produce 128 characters (16 chunks).
 *
 *   node --import tsx bench/guardrail-bench.ts [requests=300] [streams=60]
 *
 * Prints a Markdown report (and writes it to bench/results/guardrails-<date>.md unless
 * GUARDRAIL_BENCH_NO_WRITE=1). Issue 17's targets: request detectors ≤ 0.2 ms p50 on 10 KB; the
 * window adds at most its hold-back to TTFT.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { startDev } from '../cli/dev-command.js';
import { RuntimeGuardrails } from '../dataplane/policy/guardrail/guardrail-engine.js';
import type { GuardrailConfig } from '../dataplane/config/guardrail-config.js';
import { BUILTIN_DETECTORS } from '../dataplane/config/content-detectors.js';
import { estimatePromptTokens } from '../dataplane/metering/token-estimate.js';

const REQUESTS = Number(process.argv[2] ?? 300);
const STREAMS = Number(process.argv[3] ?? 60);
const CHUNK_MS = Number(process.env.CHUNK_MS ?? 10);
const CHUNK = 'abcdefg ';
const CHUNKS = 40;
const HOLD_BACK = 128;

const prose = 'The quarterly report covers 12 regions and 2024 revenue; version 3.2 shipped with 41 fixes, and the team met on 2024-06-03 to plan the next steps for the rollout. ';
const PROMPT = prose.repeat(Math.ceil(10_240 / prose.length)).slice(0, 10_240);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const ms = (x: number): string => x.toFixed(3);

// The rules of the guarded routes, as the snapshot carries them.
const others = BUILTIN_DETECTORS.filter((d) => d !== 'PaymentCard' && d !== 'Credential');
const requestRules = `    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-pii, phase: Request, action: Mask, detector: { builtin: [${others.join(', ')}] } }
    - { name: watch-keys, phase: Request, action: Monitor, detector: { builtin: [Credential] } }
`;
const responseRules = `    - { name: mask-mail-out, phase: Response, action: Mask, detector: { builtin: [Email] } }
`;
/** GUARDRAIL_BENCH_RULES=request|response: only those rules on the guarded routes (to see where time goes). */
const only = process.env.GUARDRAIL_BENCH_RULES;
const rulesYaml = only === 'request' ? requestRules : only === 'response' ? responseRules : requestRules + responseRules;

/** 1. The request rules alone. */
async function engine(): Promise<{ p50: number; p90: number }> {
  const config: GuardrailConfig = {
    id: 'bench/guarded',
    subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: ['bench/guarded'] },
    holdBackChars: HOLD_BACK,
    rules: [
      { name: 'no-cards', phase: 'Request', action: 'Block', detector: { kind: 'builtin', names: ['PaymentCard'] } },
      { name: 'mask-pii', phase: 'Request', action: 'Mask', detector: { kind: 'builtin', names: others } },
      { name: 'watch-keys', phase: 'Request', action: 'Monitor', detector: { kind: 'builtin', names: ['Credential'] } },
    ],
  };
  const active = RuntimeGuardrails.build([config], { providers: new Map(), transport: { send: () => Promise.reject(new Error('none')) } }).forRequest({ kind: 'anonymous' }, 'bench/guarded');
  if (active === undefined) throw new Error('policy does not apply');
  const body = { model: 'm', messages: [{ role: 'user', content: PROMPT }] };
  const info = { requestId: 'b', route: 'bench/guarded', model: 'm', caller: 'anonymous', signal: new AbortController().signal };
  const tokens = estimatePromptTokens(body);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) await active.checkRequest(body, tokens, info);
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    await active.checkRequest(body, tokens, info);
    times.push(performance.now() - t);
  }
  return { p50: pct(times, 0.5), p90: pct(times, 0.9) };
}

/** The upstream: a short answer, or CHUNKS chunks of 8 characters every CHUNK_MS. */
function upstream(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { stream?: boolean };
      const base = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm' };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 2600, completion_tokens: 1, total_tokens: 2601 } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
      let n = 0;
      const timer = setInterval(() => {
        if (n < CHUNKS) {
          res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: CHUNK }, finish_reason: null }] })}\n\n`);
          n++;
          return;
        }
        clearInterval(timer);
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 80, total_tokens: 85 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      }, CHUNK_MS);
      res.on('close', () => clearInterval(timer));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      server.keepAliveTimeout = 60_000;
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => server.close() });
    }),
  );
}

const manifests = (url: string): string => {
  const route = (name: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
---
`;
  const policy = (name: string, holdBack: number) => `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: ${name} }
spec:
  subjects: { routes: [{ name: ${name} }] }
  streaming: { holdBackChars: ${holdBack} }
  rules:
${rulesYaml}---
`;
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up }
spec:
  type: openai-compatible
  url: ${url}
---
${route('plain')}${route('guarded')}${route('guarded-0')}${policy('guarded', HOLD_BACK)}${policy('guarded-0', 0)}`;
};

async function chat(base: string, model: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }] }) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}`);
  return performance.now() - t;
}

/**
 * Time to the first chunk with content, and the time from it to the chunk that brings the text past
 * HOLD_BACK characters (how long the upstream took to produce a window's worth); the streamed text is checked whole.
 */
async function ttft(base: string, model: string): Promise<{ first: number; window: number }> {
  const t = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
  if (res.body === null || res.status !== 200) throw new Error(`${model}: HTTP ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let first: number | undefined;
  let past: number | undefined;
  let text = '';
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes as Uint8Array, { stream: true });
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, at).replace(/^data: /, '');
      buffer = buffer.slice(at + 2);
      if (frame === '[DONE]' || frame === '') continue;
      const content = (JSON.parse(frame) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '';
      if (content !== '' && first === undefined) first = performance.now() - t;
      text += content;
      if (text.length > HOLD_BACK && past === undefined) past = performance.now() - t;
    }
  }
  if (text !== CHUNK.repeat(CHUNKS) || first === undefined || past === undefined) throw new Error(`${model}: streamed text differs`);
  return { first, window: past - first };
}

const up = await upstream();
const dir = mkdtempSync(join(tmpdir(), 'guardrail-bench-'));
writeFileSync(join(dir, 'all.yaml'), manifests(up.url));
const gateway = await startDev({ dir, host: '127.0.0.1', port: 0, drainTimeoutMs: 1000, logger: pino({ level: 'silent' }) });
const base = gateway.url;

const eng = await engine();

const lat: Record<'plain' | 'guarded', number[]> = { plain: [], guarded: [] };
for (let i = 0; i < 30; i++) await Promise.all([chat(base, 'plain'), chat(base, 'guarded')]);
for (let i = 0; i < REQUESTS; i++) {
  // Alternate which goes first, so neither side always runs right after the other.
  const order = i % 2 === 0 ? (['plain', 'guarded'] as const) : (['guarded', 'plain'] as const);
  for (const m of order) lat[m].push(await chat(base, m));
}

const first: Record<'plain' | 'guarded-0' | 'guarded', number[]> = { plain: [], 'guarded-0': [], guarded: [] };
/** On the plain route: how long the upstream took to produce the window's characters. */
const produced: number[] = [];
for (let i = 0; i < 5; i++) for (const m of ['plain', 'guarded-0', 'guarded'] as const) await ttft(base, m);
for (let i = 0; i < STREAMS; i++) {
  const order = (['plain', 'guarded-0', 'guarded'] as const).slice(i % 3).concat((['plain', 'guarded-0', 'guarded'] as const).slice(0, i % 3));
  for (const m of order) {
    const r = await ttft(base, m);
    first[m].push(r.first);
    if (m === 'plain') produced.push(r.window);
  }
}
await gateway.stop();
up.close();
rmSync(dir, { recursive: true, force: true });

const p50 = (xs: number[]) => pct(xs, 0.5);
const windowMs = Math.ceil(HOLD_BACK / CHUNK.length) * CHUNK_MS;
const producedMs = p50(produced);
const date = new Date().toISOString().slice(0, 10);
const report = `# Guardrail cost (${date})

\`node --import tsx bench/guardrail-bench.ts ${REQUESTS} ${STREAMS}\` — one process: \`tollgate dev\`, a local upstream and the
client; routes alternate within the run. Machine load at the start: ${(await import('node:os')).loadavg()[0]?.toFixed(1)} (1-min average).
Rules of \`guarded\`: Block PaymentCard; Mask ${others.join(', ')}; Monitor Credential (all on requests); Mask Email on answers.

| measure | plain | guarded | added |
| --- | ---: | ---: | ---: |
| request rules alone on a 10 KB prompt (engine), p50 / p90 ms | | ${ms(eng.p50)} / ${ms(eng.p90)} | ${ms(eng.p50)} |
| non-streamed 10 KB prompt end to end, p50 ms (${REQUESTS} each) | ${ms(p50(lat.plain))} | ${ms(p50(lat.guarded))} | ${ms(p50(lat.guarded) - p50(lat.plain))} |
| stream TTFT, holdBackChars 0, p50 ms (${STREAMS} each) | ${ms(p50(first.plain))} | ${ms(p50(first['guarded-0']))} | ${ms(p50(first['guarded-0']) - p50(first.plain))} |
| stream TTFT, holdBackChars ${HOLD_BACK}, p50 ms (${STREAMS} each) | ${ms(p50(first.plain))} | ${ms(p50(first.guarded))} | ${ms(p50(first.guarded) - p50(first.plain))} |

The upstream streams ${CHUNK.length} characters every ${CHUNK_MS} ms, so producing ${HOLD_BACK} characters takes ${windowMs} ms nominally; on the
plain route the client saw ${ms(producedMs)} ms (p50) pass between the first content and the text passing ${HOLD_BACK} characters (timers run
late on a loaded machine). That is the bound on what the window may add to time to first token (issue 17: "at most its
configured hold-back"): the window's text is released as soon as more than ${HOLD_BACK} characters have arrived.
Targets: request detectors ≤ 0.2 ms p50 on 10 KB (engine row); TTFT added ≤ the time to produce the window (${ms(producedMs)} ms here) plus
the detectors' time (last row).
`;
console.log(report);
if (process.env.GUARDRAIL_BENCH_NO_WRITE !== '1') {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/guardrails-${date}.md`, report);
}
