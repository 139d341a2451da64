/**
 * Interleaved latency A/B at concurrency 1: direct, the Node floor and two Tollgate builds, one request
 * at a time in turn (order rotated every round), so whatever else the machine does falls on all of
 * them alike. Per system: p50/p90 of a non-streaming request, and of the time to the first content
 * chunk of a stream (TTFT), each minus direct's ("added"). The client is a raw keep-alive socket per
 * system in this process, so no client library's own cost differs between rows.
 *   node --import tsx bench/ab-latency.ts <root A> <root B> [rounds=2000]
 * BENCH_GOVERNANCE (default off) picks the Tollgate row; BENCH_STREAM_MODEL (default emu-c2-i5).
 */
import { mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { startEmulator } from './lib/emulator.js';
import { type RunningSystem, systemsFor } from './lib/systems.js';

const [rootA, rootB, roundsArg] = process.argv.slice(2);
if (rootA === undefined || rootB === undefined) throw new Error('usage: ab-latency.ts <root A> <root B> [rounds]');
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const rounds = Number(roundsArg ?? 2000);
const streamModel = process.env.BENCH_STREAM_MODEL ?? 'emu-c2-i5';
const base = readConfig(
  { ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'node-floor,tollgate', BENCH_GOVERNANCE: process.env.BENCH_GOVERNANCE ?? 'off', BENCH_TOLLGATE_QUIET: '0' },
  repoRoot,
  new Date(),
);
mkdirSync(base.rawDir, { recursive: true });

/** One keep-alive connection; `send` resolves with [ms to the first content chunk, ms to the end]. */
class RawClient {
  private socket!: Socket;
  private onData: ((chunk: Buffer) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly path: string,
    private readonly headers: string[],
  ) {}

  async open(): Promise<void> {
    this.socket = connect({ host: this.host, port: this.port, noDelay: true });
    await new Promise<void>((ok, fail) => this.socket.once('connect', ok).once('error', fail));
    this.socket.on('data', (chunk: Buffer) => this.onData?.(chunk));
  }

  send(model: string, stream: boolean): Promise<[number, number]> {
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
    const head = [`POST ${this.path} HTTP/1.1`, `host: ${this.host}:${this.port}`, 'content-type: application/json', 'authorization: Bearer sk-bench-not-a-real-key', ...this.headers, `content-length: ${Buffer.byteLength(body)}`];
    return new Promise((ok, fail) => {
      let text = '';
      let first = -1;
      const t0 = performance.now();
      this.onData = (chunk) => {
        const now = performance.now();
        text += chunk.toString('latin1');
        if (first < 0 && (stream ? text.includes('"content":"tok') : true)) first = now - t0;
        const headEnd = text.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const headers = text.slice(0, headEnd).toLowerCase();
        if (!headers.startsWith('http/1.1 200')) {
          fail(new Error(text.slice(0, 300)));
          return;
        }
        const length = /\r\ncontent-length: *(\d+)/.exec(headers);
        const complete = length !== null ? text.length - headEnd - 4 >= Number(length[1]) : text.endsWith('\r\n0\r\n\r\n');
        if (!complete) return;
        this.onData = undefined;
        ok([first, now - t0]);
      };
      this.socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function clientFor(sys: RunningSystem): RawClient {
  const url = new URL(sys.url);
  return new RawClient(url.hostname, Number(url.port), url.pathname, sys.headers);
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

const { emulator, port: upstreamPort } = await startEmulator(base);
const started: RunningSystem[] = [];
try {
  const defs = systemsFor(base);
  const floorDef = defs.find((d) => d.id === 'node-floor');
  const tollgateDef = defs.find((d) => d.id === 'tollgate');
  if (floorDef === undefined || tollgateDef === undefined) throw new Error('no node-floor or tollgate row');
  const models = ['emu', streamModel];
  const names = ['direct', 'node-floor', 'A', 'B'];
  const systems: RunningSystem[] = [{ url: `http://127.0.0.1:${upstreamPort}/v1/chat/completions`, headers: [], stop: async () => undefined }];
  systems.push(await floorDef.start({ cfg: base, upstreamPort, models, tag: 'ab-floor' }));
  for (const [label, root] of [['A', rootA], ['B', rootB]] as const) {
    systems.push(await tollgateDef.start({ cfg: { ...base, tollgateRoot: resolve(root) }, upstreamPort, models, tag: `ab-${label}` }));
  }
  started.push(...systems);
  const clients = systems.map(clientFor);
  for (const c of clients) await c.open();
  const total: number[][] = names.map(() => []);
  const ttft: number[][] = names.map(() => []);
  const warm = Math.min(200, Math.floor(rounds / 10));
  for (let r = 0; r < rounds + warm; r++) {
    for (let k = 0; k < clients.length; k++) {
      const i = (k + r) % clients.length;
      const client = clients[i] as RawClient;
      const [, end] = await client.send('emu', false);
      const [first] = await client.send(streamModel, true);
      if (r < warm) continue;
      (total[i] as number[]).push(end);
      (ttft[i] as number[]).push(first);
    }
  }
  for (const c of clients) c.close();
  const d50 = quantile(total[0] as number[], 0.5);
  const t50 = quantile(ttft[0] as number[], 0.5);
  process.stdout.write(`${rounds} rounds, stream model ${streamModel}; A=${rootA} B=${rootB}\n`);
  process.stdout.write('system       p50 ms  p90 ms  added p50  | TTFT p50  TTFT p90  added TTFT p50\n');
  names.forEach((name, i) => {
    const t = total[i] as number[];
    const f = ttft[i] as number[];
    process.stdout.write(
      `${name.padEnd(11)} ${quantile(t, 0.5).toFixed(3).padStart(7)} ${quantile(t, 0.9).toFixed(3).padStart(7)} ${(quantile(t, 0.5) - d50).toFixed(3).padStart(9)}  | ${quantile(f, 0.5).toFixed(3).padStart(8)} ${quantile(f, 0.9).toFixed(3).padStart(9)} ${(quantile(f, 0.5) - t50).toFixed(3).padStart(14)}\n`,
    );
  });
} finally {
  for (const s of started) await s.stop();
  await emulator.stop();
}
