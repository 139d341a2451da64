// A long operator outage: the pod's pending budget records stay bounded (merged, never dropped), and
// once the operator answers, Budget.status holds at least the true spend. The pod's UsageReporter
// against the operator's real HTTP intake (term, aggregator) over loopback, with an in-memory
// API server for the Budgets.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestUsage } from '../../config/request-usage.js';
import type { BudgetConfig } from '../../config/snapshot.js';
import type { UsageReportRecord } from '../../config/usage-report.js';
import { UsageAggregator } from '../../../operator/budgets/usage-aggregator.js';
import { UsageTerm } from '../../../operator/budgets/usage-term.js';
import type { Distributor } from '../../../operator/distribute/distributor.js';
import { createOperatorApp } from '../../../operator/distribute/operator-server.js';
import type { KubeObject } from '../../../operator/kube/kube-client.js';
import { registerUsageRecordsMerged } from '../../telemetry/usage-backlog-metrics.js';
import { BudgetLedger } from './budget-ledger.js';
import { COMPACT_ABOVE, compactBudgetRecords, MAX_PENDING_BUDGET_RECORDS } from './usage-compaction.js';
import { UsageReporter } from './usage-reporter.js';

const logger = pino({ level: 'silent' });
const START = Date.parse('2026-11-15T00:00:00Z');

const budget = (name: string, unit: BudgetConfig['unit'], period: BudgetConfig['period'] = 'Month'): BudgetConfig => ({
  id: `team-a/${name}`,
  unit,
  amount: 1e9,
  period,
  timeZone: 'UTC',
  ...(period === 'Rolling' ? { windowMs: 86_400_000 } : {}),
  subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] },
  action: { type: 'Reject', cutStreams: false },
  thresholds: [100],
});
const configs = [budget('monthly', 'USD'), budget('tokens', 'Tokens'), budget('day', 'USD', 'Rolling')];

/** Budgets as the API server holds them: a list by field selector, and status merge patches. */
function fakeBudgetsApi() {
  const statuses = new Map<string, Record<string, unknown>>(configs.map((c) => [c.id, {}]));
  let rv = 1;
  const object = (id: string): KubeObject => {
    const [namespace = '', name = ''] = id.split('/');
    return { metadata: { namespace, name, resourceVersion: String(rv) }, status: statuses.get(id) } as KubeObject;
  };
  const client = {
    request: async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const name = /metadata\.name%3D([^&]+)|budgets\/([^/]+)\/status/.exec(path);
      const id = `team-a/${decodeURIComponent(name?.[1] ?? name?.[2] ?? '')}`;
      if (method === 'GET') return { items: [object(id)] } as T;
      const patch = (body as { status: Record<string, unknown> }).status;
      const before = statuses.get(id) ?? {};
      const applied = { ...(before.appliedThrough as Record<string, number> | undefined), ...(patch.appliedThrough as Record<string, number>) };
      statuses.set(id, { ...before, ...patch, appliedThrough: applied });
      rv++;
      return object(id) as T;
    },
  };
  return { client, spent: (id: string): number => (statuses.get(id)?.spent as number | undefined) ?? 0, objects: new Map(configs.map((c) => [c.id, object(c.id)])) };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

const request: RequestUsage = { namespace: 'team-a', outcome: 'ok', failovers: 0, cacheHit: false, inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, latencyMs: 100 };

describe('pending budget records during an operator outage', () => {
  it('stay bounded, and once the operator answers Budget.status holds at least the true spend', { timeout: 60_000 }, async () => {
    const api = fakeBudgetsApi();
    const clock = { now: START };
    const usage = new UsageAggregator({ client: api.client, budgetObjects: () => api.objects, budgetConfigs: () => configs, replicas: () => 1, logger, now: () => clock.now });
    const app = createOperatorApp({
      token: 't0ken',
      usage,
      term: new UsageTerm('op-a'),
      distributor: { envelope: {} } as unknown as Distributor,
      registry: new Registry(),
      isReady: () => true,
      isLeader: () => true,
      logger,
    });
    // down: 503 (the operator unreachable); lose: the report is counted but its answer never arrives.
    let mode: 'down' | 'lose' | 'up' = 'lose';
    server = createServer((req, res) => {
      if (mode === 'down') {
        res.statusCode = 503;
        res.end();
        return;
      }
      if (mode === 'lose') res.end = (() => (req.socket.destroy(), res)) as typeof res.end;
      (app as unknown as RequestListener)(req, res);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ledger = new BudgetLedger('pod-1', { standalone: false });
    const reporter = new UsageReporter(ledger, { operatorUrl: url, token: 't0ken', logger });

    const sets = [['team-a/monthly'], ['team-a/monthly', 'team-a/tokens'], ['team-a/tokens', 'team-a/day']];
    const truth = new Map<string, number>();
    const total = 120_000;
    let maxPending = 0;
    for (let i = 0; i < total; i++) {
      // Two hours of requests, 60 ms apart, with a few usage-history records between them.
      clock.now = START + i * 60;
      const budgetIds = sets[i % sets.length] ?? [];
      const costUsd = 0.001 * (1 + (i % 7));
      const tokens = 10 + (i % 13);
      reporter.record({ at: clock.now, costUsd, tokens, budgetIds }, configs);
      for (const id of budgetIds) truth.set(id, (truth.get(id) ?? 0) + (id === 'team-a/tokens' ? tokens : costUsd));
      if (i % 1000 === 0) reporter.reportRequest(request, costUsd);
      // The first report is counted and its answer lost; every later one fails: the outage.
      if (i === 2500) {
        await reporter.flush();
        mode = 'down';
      }
      if (i % 20_000 === 10_000) await reporter.flush();
      maxPending = Math.max(maxPending, reporter.unacknowledged);
    }
    expect(maxPending).toBeLessThanOrEqual(COMPACT_ABOVE + 200);
    expect(ledger.unreported).toBeLessThanOrEqual(COMPACT_ABOVE);
    expect(reporter.merged.sameBudgets).toBeGreaterThan(0);
    expect(reporter.merged.acrossBudgets).toBe(0);
    const registry = new Registry();
    registerUsageRecordsMerged(registry, () => reporter.merged);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`tollgate_usage_records_merged_total{budgets="same"} ${reporter.merged.sameBudgets}`);
    expect(metrics).toContain('tollgate_usage_records_merged_total{budgets="different"} 0');
    // The merged records carry all the spend: what the pod counts as its own is not less than the truth.
    const now = clock.now;
    for (const c of configs) expect(ledger.spent(c, now).spent).toBeGreaterThanOrEqual((truth.get(c.id) ?? 0) * (1 - 1e-9));

    mode = 'up';
    for (let round = 0; round < 200 && reporter.unacknowledged > 0; round++) await reporter.flush();
    expect(reporter.unacknowledged).toBe(0);
    for (const c of configs) {
      const spent = api.spent(c.id);
      expect(spent).toBeGreaterThanOrEqual((truth.get(c.id) ?? 0) * (1 - 1e-9));
      // Over-counted only by parts of the report counted before its answer was lost, merged later
      // with parts the operator never had: about a minute of one set of Budgets.
      expect(spent).toBeLessThan((truth.get(c.id) ?? 0) * 1.05);
    }
  });
});

describe('compactBudgetRecords', () => {
  const rec = (seq: number, at: number, budgetIds: string[], costUsd = 1): UsageReportRecord => ({ at, costUsd, tokens: 1, budgetIds, seq });

  it('keeps the highest seq and latest time of each merged group, in seq order, and never merges across keepApartThrough', () => {
    const records: UsageReportRecord[] = [];
    for (let seq = 1; seq <= COMPACT_ABOVE + 10; seq++) records.push(rec(seq, START + seq, seq % 2 === 0 ? ['a'] : ['b']));
    const { records: out, merged } = compactBudgetRecords(records, 100);
    // Before and after seq 100, two sets each, all within one minute.
    expect(out.map((r) => [r.seq, r.budgetIds[0], r.costUsd])).toEqual([
      [99, 'b', 50],
      [100, 'a', 50],
      [COMPACT_ABOVE + 9, 'b', (COMPACT_ABOVE + 10 - 100) / 2],
      [COMPACT_ABOVE + 10, 'a', (COMPACT_ABOVE + 10 - 100) / 2],
    ]);
    expect(out.at(-1)?.at).toBe(START + COMPACT_ABOVE + 10);
    expect(merged).toBe(records.length - 4);
  });

  it('past the hard bound merges records of different Budgets, charging each the sum (an over-count, never a loss)', () => {
    const records: UsageReportRecord[] = [];
    const n = MAX_PENDING_BUDGET_RECORDS + 1;
    for (let seq = 1; seq <= n; seq++) records.push(rec(seq, START, [`b${seq}`]));
    const { records: out, mergedAcross } = compactBudgetRecords(records);
    expect(out.length).toBeLessThanOrEqual(MAX_PENDING_BUDGET_RECORDS / 2);
    expect(mergedAcross).toBe(n - out.length);
    // Every Budget is named by a record carrying at least its own spend, with a seq not below its own.
    const seen = new Map<string, { seq: number; cost: number }>();
    for (const r of out) for (const id of r.budgetIds) seen.set(id, { seq: r.seq, cost: r.costUsd });
    for (const r of records) {
      const s = seen.get(r.budgetIds[0] ?? '');
      expect(s?.seq).toBeGreaterThanOrEqual(r.seq);
      expect(s?.cost).toBeGreaterThanOrEqual(r.costUsd);
    }
    for (let i = 1; i < out.length; i++) expect(out[i]!.seq).toBeGreaterThan(out[i - 1]!.seq);
  });
});
