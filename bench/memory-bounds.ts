// Peak memory and CPU of one `tollgate dev` process under hostile traffic (issue 14, items 8-10):
//   npx tsx bench/memory-bounds.ts [tollgate root=.]   (a root from bench/build-export.sh measures another commit)
// Each scenario gets a fresh process; the numbers are its VmHWM (peak RSS) and CPU seconds from /proc.
// Everything runs on loopback. Not a test: the numbers depend on the machine.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeWithBackpressure } from '../dataplane/server/write-with-backpressure.js';

const MB = 1_000_000;
const root = resolve(process.argv[2] ?? '.');

type Upstream = (res: ServerResponse) => Promise<void>;

async function pump(res: ServerResponse, total: number, piece: string): Promise<void> {
  for (let sent = 0; sent < total && !res.destroyed; sent += piece.length) await writeWithBackpressure(res, piece, 60_000);
}

function procStats(pid: number): { hwmMb: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { hwmMb: Math.round(hwmKb / 1024), cpuS: ticks / 100 };
}

function post(port: number, body: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        if (text.length < 2000) text += c.toString();
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, text }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function scenario(name: string, upstream: Upstream, drive: (port: number) => Promise<string>): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => void upstream(res).catch(() => undefined));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const upstreamPort = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-membench-'));
  writeFileSync(
    join(dir, 'm.yaml'),
    `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: up }
spec: { type: openai-compatible, url: "http://127.0.0.1:${upstreamPort}/v1", credentials: { secretRef: { name: k, key: apiKey } } }
---
apiVersion: v1
kind: Secret
metadata: { name: k }
stringData: { apiKey: sk-x }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: m }
spec: { model: m, targets: [{ providerRef: { name: up }, model: m }], retry: { attempts: 1 }, timeouts: { total: 120s, streamIdle: 60s } }
`,
  );
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [join(root, 'dist/cli/tollgate.js'), 'dev', '-f', dir, '--port', String(port), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; i < 100; i++) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      await sleep(100);
    }
    const pid = child.pid ?? 0;
    const before = procStats(pid);
    const outcome = await drive(port);
    const after = procStats(pid);
    console.log(`| ${name} | ${outcome} | ${after.hwmMb} MB | ${(after.cpuS - before.cpuS).toFixed(2)} s |`);
  } finally {
    child.kill('SIGKILL');
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const chat = (content: string): string => JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] });

console.log(`Tollgate at ${root}\n\n| scenario | outcome | peak RSS | gateway CPU |\n| --- | --- | --- | --- |`);

await scenario(
  'upstream answers a 150 MB JSON body',
  async (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"');
    await pump(res, 150 * MB, 'x'.repeat(64 * 1024));
    res.end('"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}');
  },
  async (port) => {
    const r = await post(port, chat('hi'));
    return `HTTP ${r.status} ${/"code":"?([\w]+)/.exec(r.text)?.[1] ?? ''}`;
  },
);

await scenario(
  'upstream streams one 256 MB event without a newline',
  async (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'first' }, finish_reason: null }] })}\n\n`);
    res.write('data: "');
    await pump(res, 256 * MB, 'y'.repeat(64 * 1024));
    res.end('"\n\ndata: [DONE]\n\n');
  },
  async (port) => {
    const r = await post(port, JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    return `HTTP ${r.status}, ${r.text.includes('error') ? 'stream ended with an error event' : 'no error event'}`;
  },
);

await scenario(
  '16 concurrent 10 MB request bodies',
  async (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  },
  async (port) => {
    const body = chat('z'.repeat(10 * MB - 100));
    const results = await Promise.all(Array.from({ length: 16 }, () => post(port, body)));
    const by = new Map<number, number>();
    for (const r of results) by.set(r.status, (by.get(r.status) ?? 0) + 1);
    return [...by].map(([s, n]) => `${n}× ${s}`).join(', ');
  },
);
