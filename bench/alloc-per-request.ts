/**
 * Bytes the gateway allocates per request and young-generation GCs per 10,000 requests, governance off
 * and on: a measure that does not depend on how busy the machine is (a fixed number of requests, counted
 * in the gateway's own heap), so a change to the request path can be judged on a shared machine.
 *   node --import tsx bench/alloc-per-request.ts <root> [requests=10000] [warmup=5000]
 * Per governance mode (ALLOC_GOVERNANCE, default "off,on") and repeat (ALLOC_REPEATS, default 2), a fresh
 * `tollgate dev` of <root> (a clean export, bench/build-export.sh) with bench/lib/alloc-probe.mjs
 * preloaded gets <warmup> requests (V8 compiles the path), then the measured <requests>, all the bench's
 * chat completion from ALLOC_CONNECTIONS (default 16) keep-alive connections. ALLOC_SITES=<n> adds the
 * n largest allocation sites of the window (V8's sampling heap profiler, 128-byte interval), ALLOC_DEPTH=<k>
 * with k frames each (the allocating function and its callers); ALLOC_NODE_FLAGS: extra node flags
 * (e.g. --no-turbo-inlining, so that a site is the function that allocates rather than its inliner).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readConfig } from './lib/config.js';
import { postChat } from './lib/post-chat.js';
import { startEmulator } from './lib/emulator.js';
import { systemsFor } from './lib/systems.js';

const [rootArg, requestsArg, warmupArg] = process.argv.slice(2);
if (rootArg === undefined) throw new Error('usage: alloc-per-request.ts <root> [requests=10000] [warmup=5000]');
const root = resolve(rootArg);
const requests = Number(requestsArg ?? 10_000);
const warmup = Number(warmupArg ?? 5_000);
const connections = Number(process.env.ALLOC_CONNECTIONS ?? 16);
const repeats = Number(process.env.ALLOC_REPEATS ?? 2);
const sites = Number(process.env.ALLOC_SITES ?? 0);
const modes = (process.env.ALLOC_GOVERNANCE ?? 'off,on').split(',').map((m) => m.trim());
const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const probe = join(repoRoot, 'bench', 'lib', 'alloc-probe.mjs');
const body = JSON.stringify({ model: 'emu', messages: [{ role: 'user', content: 'Say hello in one short sentence.' }], max_tokens: 32 });

interface ProbeResult {
  allocatedBySpace: Record<string, number>;
  gcs: Record<string, number>;
  sampledBytes?: number;
  sites?: [string, number][];
}

/** Sends `count` requests over the agent's connections, `connections` at a time; throws on a non-200. */
async function drive(url: string, agent: Agent, count: number): Promise<void> {
  let next = 0;
  const one = (): Promise<void> => postChat(url, agent, body);
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, count) }, worker));
}

async function waitFor(file: string): Promise<void> {
  for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(50);
  if (!existsSync(file)) throw new Error(`${file} never appeared`);
}

const base = readConfig({ ...process.env, BENCH_QUICK: '1', BENCH_SYSTEMS: 'tollgate', BENCH_TOLLGATE_QUIET: '0' }, repoRoot, new Date());
mkdirSync(base.rawDir, { recursive: true });
const { emulator, port: upstreamPort } = await startEmulator(base);
try {
  for (const governance of modes) {
    for (let r = 1; r <= repeats; r++) {
      const cfg = { ...base, governance: [governance as 'off' | 'on'], tollgateRoot: root };
      const def = systemsFor(cfg).find((s) => s.key === `tollgate-${governance}`);
      if (def === undefined) throw new Error(`no tollgate-${governance} row`);
      const out = join(base.rawDir, `alloc-${governance}-${r}.json`);
      const sys = await def.start({
        cfg, upstreamPort, models: ['emu'], tag: `alloc-${governance}-${r}`,
        nodeFlags: [`--import=${probe}`, ...(process.env.ALLOC_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')],
        env: { ALLOC_PROBE_OUT: out, ALLOC_PROBE_SITES: sites > 0 ? '1' : '0', ALLOC_PROBE_DEPTH: process.env.ALLOC_DEPTH ?? '1' },
      });
      const agent = new Agent({ keepAlive: true, maxSockets: connections });
      try {
        if (sys.pid === undefined) throw new Error('no gateway pid');
        await drive(sys.url, agent, warmup);
        process.kill(sys.pid, 'SIGUSR2');
        await waitFor(`${out}.started`);
        await drive(sys.url, agent, requests);
        process.kill(sys.pid, 'SIGUSR2');
        await waitFor(out);
      } finally {
        agent.destroy();
        await sys.stop();
      }
      const res = JSON.parse(readFileSync(out, 'utf8')) as ProbeResult;
      const bytes = Object.values(res.allocatedBySpace).reduce((a, b) => a + b, 0);
      const young = (res.allocatedBySpace.new_space ?? 0) + (res.allocatedBySpace.new_large_object_space ?? 0);
      const scavenges = (res.gcs['Scavenge'] ?? 0) + (res.gcs['MinorMarkCompact'] ?? 0);
      const others = Object.entries(res.gcs).filter(([k]) => k !== 'Scavenge' && k !== 'MinorMarkCompact').map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(
        `governance ${governance} #${r}: ${(bytes / requests / 1000).toFixed(2)} KB/request (young ${(young / requests / 1000).toFixed(2)}), ` +
          `${((scavenges * 10_000) / requests).toFixed(1)} young GCs per 10,000 requests${others === '' ? '' : ` (also ${others})`}\n`,
      );
      if (res.sites !== undefined && res.sampledBytes !== undefined) {
        process.stdout.write(`  sampled ${(res.sampledBytes / requests / 1000).toFixed(2)} KB/request; largest sites (bytes/request):\n`);
        for (const [site, b] of res.sites.slice(0, sites)) process.stdout.write(`  ${(b / requests).toFixed(0).padStart(7)}  ${site}\n`);
      }
    }
  }
} finally {
  await emulator.stop();
}
