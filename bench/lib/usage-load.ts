import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import type { TestCluster } from '../../test/integration/harness.js';

/** The usage benches' namespaces: team-00 … team-49. */
export const usageNamespace = (i: number): string => `team-${String(i).padStart(2, '0')}`;

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
const OUTCOMES: RequestUsage['outcome'][] = [...Array<RequestUsage['outcome']>(95).fill('ok'), 'rate_limited', 'upstream_5xx', 'upstream_4xx', 'timeout', 'budget_rejected'];

/** One request as a data plane reports it: one of `namespaces`, 5 routes, 3 providers, 20 callers each. */
export function usageRequest(namespaces: number): { request: RequestUsage; costUsd: number } {
  const n = usageNamespace(Math.floor(Math.random() * namespaces));
  const route = Math.floor(Math.random() * 5);
  const inputTokens = 50 + Math.floor(Math.random() * 2000);
  const outputTokens = Math.floor(Math.random() * 500);
  const streamed = Math.random() < 0.5;
  return {
    request: {
      namespace: n,
      route: `${n}/chat-${route}`,
      model: `chat-${route}`,
      provider: `${n}/${pick(['openai', 'anthropic', 'vllm'])}`,
      caller: `sa:${n}/app-${Math.floor(Math.random() * 20)}`,
      outcome: pick(OUTCOMES),
      failovers: Math.random() < 0.02 ? 1 : 0,
      cacheHit: Math.random() < 0.05,
      inputTokens,
      outputTokens,
      cachedInputTokens: 0,
      latencyMs: 50 + Math.random() * 3000,
      ...(streamed ? { ttftMs: 20 + Math.random() * 800 } : {}),
    },
    costUsd: (inputTokens * 0.15 + outputTokens * 0.6) / 1e6,
  };
}

/** What the usage benches need of a reporter (the current one, or an older checkout's). */
export interface BenchReporter {
  reportRequest(request: RequestUsage, costUsd: number): void;
  readonly unacknowledged: number;
}

/**
 * `rate` records/s per reporter for `seconds` (a tick every 50 ms), then until every record is
 * acknowledged or `drainLimitMs` passed. Returns the records sent, the largest backlog and the times.
 */
export async function reportAtRate(
  reporters: readonly BenchReporter[],
  opts: { rate: number; seconds: number; namespaces: number; drainLimitMs: number },
): Promise<{ records: number; maxBacklog: number; started: number; loadEnd: number; drained: number }> {
  let records = 0;
  let maxBacklog = 0;
  const started = Date.now();
  const perTick = opts.rate / 20;
  let carry = 0;
  while (Date.now() - started < opts.seconds * 1000) {
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    for (const r of reporters) {
      for (let j = 0; j < n; j++) {
        const one = usageRequest(opts.namespaces);
        r.reportRequest(one.request, one.costUsd);
        records++;
      }
    }
    maxBacklog = Math.max(maxBacklog, reporters.reduce((sum, r) => sum + r.unacknowledged, 0));
    await sleep(50);
  }
  const loadEnd = Date.now();
  while (reporters.some((r) => r.unacknowledged > 0) && Date.now() - loadEnd < opts.drainLimitMs) await sleep(100);
  return { records, maxBacklog, started, loadEnd, drained: Date.now() };
}

/** The API server's own request counts (apiserver_request_total): by verb for one resource, and every write verb over all resources. */
export function apiserverRequests(k: TestCluster, resource: string): { byVerb: Record<string, number>; writes: number } {
  const text = execFileSync('kubectl', ['get', '--raw', '/metrics'], { env: { ...process.env, KUBECONFIG: k.kubeconfig }, maxBuffer: 256 * 2 ** 20, encoding: 'utf8' });
  const byVerb: Record<string, number> = {};
  let writes = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? '?';
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].includes(verb)) writes += n;
    if (line.includes(`resource="${resource}"`)) byVerb[verb] = (byVerb[verb] ?? 0) + n;
  }
  return { byVerb, writes };
}

export const countsSince = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).map(([verb, n]) => [verb, n - (before[verb] ?? 0)]));

/**
 * `stop` once, whatever asks first: the bench's hard time limit (exit 3) or SIGINT/SIGTERM (exit
 * 130). Returns the once-only stop for the bench's own normal ending.
 */
export function stopOnceOnLimitOrSignal(limitMs: number, stop: () => Promise<void>, log: (message: string) => void): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const once = (): Promise<void> => (stopping ??= stop());
  setTimeout(() => {
    log('hard time limit reached; stopping');
    void once().finally(() => process.exit(3));
  }, limitMs).unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void once().finally(() => process.exit(130)));
  return once;
}
