// Usage history as UsageReport objects, on the real API server: what two data-plane pods served
// (ok, streamed, upstream failures, budget refusals) ends up in one report per namespace and day,
// `kubectl get usagereports` shows it, and a pod roll, then a leader change between two operator
// replicas (the leader killed, restarted as a standby) in the middle of the load neither lose a
// request nor count one twice.
import { connect, createServer, type Server } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReportStatus } from '../../operator/api/usage-report.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { anonymousRoute, dataplaneService, eventually, POD_NET, pricedUpstream, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

const IPS = [`${POD_NET}.31`, `${POD_NET}.32`];
const OPERATOR_PORT = 19193;
const OPERATOR_URL = `http://127.0.0.1:${OPERATOR_PORT}`;
const OPERATOR_ARGS = ['--usage-flush-interval', '1'];
/** Two operator replicas behind OPERATOR_PORT. */
const REPLICA_PORTS = [19197, 19198];

let k: TestCluster;
let upstream: OpenAiUpstream;
const operators = new Map<number, Proc>();
let service: Server;
const pods = new Map<string, Proc>();

/**
 * The operator Service as kube-proxy makes it: each connection to one replica, in turn. A standby
 * answers 503 and closes the connection, so a pod's next report can land on the leader.
 */
function operatorService(): Server {
  let next = 0;
  return createServer((client) => {
    const port = REPLICA_PORTS[next++ % REPLICA_PORTS.length] ?? 0;
    const backend = connect(port, '127.0.0.1');
    client.pipe(backend).pipe(client);
    client.on('error', () => backend.destroy());
    backend.on('error', () => client.destroy());
  }).listen(OPERATOR_PORT, '127.0.0.1');
}

let starts = 0;
function startReplica(port: number): void {
  operators.set(port, startOperator(k.operatorKubeconfig, { port, identity: `usage-operator-${++starts}`, args: OPERATOR_ARGS }));
}

async function leaderPort(): Promise<number | undefined> {
  for (const port of REPLICA_PORTS) {
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.json().catch(() => undefined)) as { leader?: boolean } | undefined;
    if (ready?.leader === true) return port;
  }
  return undefined;
}

// pricedUpstream: a JSON answer (10 in, 5 out) costs $0.02, a 4-chunk stream (7 in, 4 out) $0.015.
const manifests = (upstreamUrl: string) => `${pricedUpstream('team-a', upstreamUrl)}---
${anonymousRoute('team-a', 'chat')}---
${anonymousRoute('team-a', 'broke')}---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: broke, namespace: team-a }
spec:
  limit: { amount: 0.000001, unit: USD }
  period: Day
  subjects: { routes: [{ name: broke }] }
`;

type Report = { metadata: { name: string }; status?: UsageReportStatus };

const today = (): string => new Date().toISOString().slice(0, 10);
const reportOf = (): UsageReportStatus | undefined => {
  try {
    return k.get<Report>('usagereport', today(), 'team-a').status;
  } catch {
    return undefined;
  }
};

function startPod(ip: string): void {
  pods.set(ip, startDataplane(ip, { operatorUrl: OPERATOR_URL }));
}

interface Tally {
  ok: number;
  costUsd: number;
  failed: number;
  refused: number;
}

/** Sends `total` requests round-robin over the pods: streamed and not, and some the upstream fails. */
async function load(total: number, during?: (done: number) => Promise<void>): Promise<Tally> {
  const tally: Tally = { ok: 0, costUsd: 0, failed: 0, refused: 0 };
  for (let i = 0; i < total; i++) {
    const client = new OpenAI({ baseURL: `http://${IPS[i % IPS.length] ?? ''}:8080/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
    const stream = i % 2 === 0;
    try {
      if (i % 10 === 9) {
        await client.chat.completions.create({ model: 'broke', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      } else if (stream) {
        const s = await client.chat.completions.create({ model: 'chat', stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
        for await (const _ of s);
        tally.costUsd += 0.015;
      } else {
        // Every 7th: the upstream refuses the request (a 400 is relayed, never retried).
        if (i % 7 === 3) upstream.script({ kind: 'error', status: 400 }, { kind: 'auto', chunks: 4 });
        await client.chat.completions.create({ model: 'chat', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
        tally.costUsd += 0.02;
      }
      tally.ok++;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 429) tally.refused++;
      else if (status === 400) tally.failed++;
      else throw err;
    }
    await during?.(i + 1);
  }
  return tally;
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  upstream.script({ kind: 'auto', chunks: 4 });
  k.kubectl(['create', 'namespace', 'team-a']);
  k.apply(manifests(upstream.baseUrl));
  for (const ip of IPS) startPod(ip);
  k.apply(dataplaneService(IPS));
  service = operatorService();
  for (const port of REPLICA_PORTS) startReplica(port);
  for (const ip of IPS) {
    await eventually(
      () => new OpenAI({ baseURL: `http://${ip}:8080/v1`, apiKey: 'x', maxRetries: 0 }).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      `pod ${ip} serving`,
      60_000,
    );
  }
}, 120_000);

afterAll(async () => {
  for (const operator of operators.values()) await operator.kill();
  service?.close();
  for (const p of pods.values()) await p.kill();
  await upstream?.close();
  await k?.stop();
});

describe('UsageReport objects', () => {
  it('count every request once by outcome, across a pod roll and a leader change mid-load', async () => {
    // Settle the warm-up requests first, so that the numbers below are this test's alone.
    await eventually(() => expect(reportOf()?.totals.requests).toBe(IPS.length), 'the warm-up requests counted', 20_000);
    const before = reportOf();
    const faults = async (done: number): Promise<void> => {
      if (done === 15) {
        await pods.get(IPS[0] ?? '')?.kill('SIGTERM'); // a rolling restart: drain, report, exit
        startPod(IPS[0] ?? '');
        await eventually(() => fetch(`http://${IPS[0] ?? ''}:9090/readyz`).then((r) => expect(r.status).toBe(200)), 'the new pod ready', 30_000);
      }
      if (done === 30) {
        // The leader dies holding records it received and has not written (the pods report every
        // 200 ms, it writes every second): the standby's new term must get them again.
        await new Promise((r) => setTimeout(r, 300));
        // The leader, waited for: a /readyz that did not answer in time on a loaded machine read as
        // "no leader", and nothing was killed (a third replica started on port 0 instead).
        const port = await eventually(async () => {
          const found = await leaderPort();
          if (found === undefined) throw new Error('no replica leads');
          return found;
        }, 'a leading replica', 30_000);
        await operators.get(port)?.kill();
        startReplica(port); // restarted: now the standby
      }
    };
    const tally = await load(60, faults);
    expect(tally.refused).toBe(6);
    const expected = (before?.totals.requests ?? 0) + 60;
    await eventually(() => expect(reportOf()?.totals.requests).toBe(expected), 'every request counted', 45_000);
    const status = reportOf();
    const delta = (f: (s: UsageReportStatus) => number): number => (status === undefined ? 0 : f(status)) - (before === undefined ? 0 : f(before));
    expect(delta((s) => s.totals.outcomes.budget_rejected ?? 0)).toBe(tally.refused);
    expect(tally.failed).toBeGreaterThan(0);
    expect(delta((s) => s.totals.outcomes.upstream_4xx ?? 0)).toBe(tally.failed);
    expect(delta((s) => s.totals.outcomes.ok ?? 0)).toBe(tally.ok);
    expect(Math.abs(delta((s) => s.totals.costUsd) - tally.costUsd)).toBeLessThan(1e-6);
    // Streamed requests have a time to first token; every request a latency.
    const hours = status?.hours ?? [];
    expect(hours.reduce((n, h) => n + h.latencyMs.reduce((a, b) => a + b, 0), 0)).toBe(expected);
    expect(hours.reduce((n, h) => n + h.ttftMs.reduce((a, b) => a + b, 0), 0)).toBeGreaterThanOrEqual(25);
    expect(hours.flatMap((h) => Object.keys(h.byRoute))).toContain('team-a/broke');
    expect(hours.flatMap((h) => Object.keys(h.byProvider))).toContain('team-a/up');
    // After a while (every pod acknowledged, several writes later) the count has not moved: nothing counted twice.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(reportOf()?.totals.requests).toBe(expected);
  });

  it('kubectl get usagereports shows the day with requests, errors and cost', () => {
    const out = k.kubectl(['get', 'usagereports', '-n', 'team-a']);
    const [header, row] = out.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'DATE', 'REQUESTS', 'ERRORS', 'COST-USD', 'INPUT-TOKENS', 'OUTPUT-TOKENS']);
    const status = reportOf();
    expect(row?.split(/\s+/).slice(0, 4)).toEqual([today(), today(), String(status?.totals.requests), String(status?.errors)]);
    const wide = k.kubectl(['get', 'usagereports', '-n', 'team-a', '-o', 'wide']).split('\n')[0]?.split(/\s+/);
    expect(wide).toEqual(expect.arrayContaining(['CACHE-HITS', 'FAILOVERS', 'UPDATED']));
  });
});
