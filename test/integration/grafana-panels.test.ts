// Every panel query of the chart's Grafana dashboard, run by a real Prometheus (Debian's package,
// test/prometheus/ensure-prometheus.sh) that scrapes a real data plane and operator after traffic
// that exercises each panel: failovers and retries, streams, the response cache, a rate limit, a
// Budget, an upstream 4xx, an answer without usage, and a configuration change. Each query must
// parse, evaluate without error and return at least one series with a number (not NaN).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { dataplaneService, eventually, POD_NET, pricedUpstream, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster, TOKEN } from './harness.js';

const IP = `${POD_NET}.43`;
const OPERATOR_PORT = 19196;
const PROMETHEUS = 'http://127.0.0.1:19290';

interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query?: string; type: string }[] };
}
const dashboard = JSON.parse(readFileSync('charts/tollgate/dashboards/tollgate.json', 'utf8')) as Dashboard;

/**
 * Grafana's variables as a dashboard user with defaults sees them: all routes, a rate window of many
 * scrapes. 5 m, not 1 m: a quantile over a window that no longer holds the waves is NaN, and on a
 * loaded machine the panels' queries can run more than a minute after the second wave.
 */
const expand = (expr: string): string => expr.replaceAll('$route', '.*').replaceAll('$__rate_interval', '5m');

let k: TestCluster;
let up: OpenAiUpstream;
let down: OpenAiUpstream;
let operator: Proc;
let pod: Proc;
let prometheus: ChildProcess;

const route = (name: string, spec: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name}, namespace: team-a }
spec:
  model: ${name}
  access: { anonymous: true }
${spec}---
`;

const manifests = (): string => `${pricedUpstream('team-a', up.baseUrl)}---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: down, namespace: team-a }
spec:
  type: openai-compatible
  url: ${down.baseUrl}
---
${route('chat', '  strategy: failover\n  retry: { attempts: 2 }\n  targets:\n    - { providerRef: { name: down }, model: m, priority: 0 }\n    - { providerRef: { name: up }, model: m, priority: 1 }\n  cache: { enabled: true, ttl: 10m }\n')}${route('direct', '  targets: [{ providerRef: { name: up }, model: m }]\n')}${route('limited', '  targets: [{ providerRef: { name: up }, model: m }]\n  rateLimits: [{ per: Route, requestsPerMinute: 1 }]\n')}${route('capped', '  targets: [{ providerRef: { name: up }, model: m }]\n')}apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: capped, namespace: team-a }
spec:
  limit: { amount: 0.000001, unit: USD }
  period: Day
  subjects: { routes: [{ name: capped }] }
  action: { type: Reject }
`;

async function chat(model: string, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await fetch(`http://${IP}:8080/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** One wave of traffic touching every panel; the statuses say each part did what it should. */
async function wave(n: number): Promise<void> {
  expect(await chat('chat', { user: `wave-${n}` })).toBe(200); // down fails twice, up serves: retries, a failover
  expect(await chat('chat', { user: `wave-${n}` })).toBe(200); // the same request: a cache hit
  expect(await chat('direct', { stream: true, stream_options: { include_usage: true } })).toBe(200); // TTFT, time per output token
  expect(await chat('direct')).toBe(200);
  up.script({ kind: 'ok', rawUsage: null });
  expect(await chat('direct')).toBe(200); // usage estimated
  up.script({ kind: 'error', status: 400 });
  expect(await chat('direct')).toBe(400); // an upstream 4xx
  up.script({ kind: 'auto', chunks: 4 });
  await chat('limited');
  expect(await chat('limited')).toBe(429); // rate limited
  expect([402, 429]).toContain(await chat('capped')); // over budget
}

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(expr: string): Promise<QueryAnswer> {
  const res = await fetch(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as QueryAnswer;
}

const hasNumber = (a: QueryAnswer): boolean => (a.data?.result ?? []).some((s) => Number.isFinite(Number(s.value[1])));

beforeAll(async () => {
  k = await startTestCluster();
  up = await startOpenAiUpstream();
  down = await startOpenAiUpstream();
  up.script({ kind: 'auto', chunks: 4 });
  down.script({ kind: 'error', status: 503 });
  k.kubectl(['create', 'namespace', 'team-a']);
  k.apply(manifests());
  pod = startDataplane(IP, { operatorUrl: `http://127.0.0.1:${OPERATOR_PORT}` });
  k.apply(dataplaneService([IP]));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'grafana-operator' });
  await eventually(async () => expect(await chat('direct')).toBe(200), 'the routes served', 60_000);

  const dir = mkdtempSync(join(tmpdir(), 'tollgate-prometheus-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: tollgate-dataplane
    authorization: { credentials: ${TOKEN} }
    static_configs: [{ targets: ['${IP}:9090'] }]
  - job_name: tollgate-operator
    authorization: { credentials: ${TOKEN} }
    static_configs: [{ targets: ['127.0.0.1:${OPERATOR_PORT}'] }]
`,
  );
  const binary = execFileSync('sh', ['-c', 'command -v prometheus']).toString().trim();
  prometheus = spawn(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${PROMETHEUS.slice('http://'.length)}`, '--log.level=warn'], { stdio: 'ignore' });
  await eventually(async () => expect((await fetch(`${PROMETHEUS}/-/ready`)).status).toBe(200), 'Prometheus ready', 30_000);

  // Wave 1 makes every series exist; wave 2, scraped after it, makes every rate non-zero.
  await wave(1);
  await eventually(async () => {
    expect(hasNumber(await query('tollgate_budget_rejections_total'))).toBe(true);
    expect(hasNumber(await query('tollgate_operator_reconciles_total'))).toBe(true);
  }, 'the first wave scraped', 30_000);
  await wave(2);
  // A configuration change: the operator reconciles and pushes again.
  k.apply(route('direct', '  targets: [{ providerRef: { name: up }, model: m }]\n  timeouts: { total: 200s }\n'));
  await eventually(async () => {
    expect(hasNumber(await query('sum(increase(tollgate_cache_lookups_total{result="hit"}[1m])) > 0'))).toBe(true);
    expect(hasNumber(await query('sum(increase(tollgate_operator_push_duration_seconds_count[1m])) > 0'))).toBe(true);
  }, 'the second wave scraped', 30_000);
}, 240_000);

afterAll(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null) {
    const exited = once(prometheus, 'exit');
    prometheus.kill('SIGTERM');
    await exited;
  }
  await operator?.kill();
  await pod?.kill();
  await up?.close();
  await down?.close();
  await k?.stop();
});

describe("the chart's Grafana dashboard against a real Prometheus", () => {
  it('has the panels it had when this test was written (a new panel is checked here too)', () => {
    expect(dashboard.panels.flatMap((p) => p.targets).length).toBeGreaterThanOrEqual(25);
  });

  it.each(dashboard.panels.flatMap((p) => p.targets.map((t, i) => [`${p.title} #${i + 1}`, t.expr] as const)))('%s: parses, evaluates and returns a number', async (_title, expr) => {
    const answer = await query(expand(expr));
    expect(answer.error, expand(expr)).toBeUndefined();
    expect(answer.status).toBe('success');
    expect(answer.data?.result.length, `no series: ${expand(expr)}`).toBeGreaterThan(0);
    expect(hasNumber(answer), `only NaN: ${expand(expr)} → ${JSON.stringify(answer.data?.result)}`).toBe(true);
  });

  it("the route variable's query lists the routes that served traffic", async () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'route');
    const m = /^label_values\((\w+), (\w+)\)$/.exec(variable?.query ?? '');
    expect(m).not.toBeNull();
    const res = await fetch(`${PROMETHEUS}/api/v1/label/${m?.[2] ?? ''}/values?match[]=${encodeURIComponent(m?.[1] ?? '')}`);
    const values = ((await res.json()) as { data: string[] }).data;
    expect(values).toEqual(expect.arrayContaining(['team-a/chat', 'team-a/direct', 'team-a/limited', 'team-a/capped']));
  });
});
