// Rotating the admin token or the channel CA (docs/upgrade.md) must not lose the spend of pods that
// started before it: the operator accepts the previous token until every pod has restarted, and a
// token or certificate refused on the usage channel is said at warn level and counted.
import { once } from 'node:events';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { UsageReport, UsageReportResponse } from '../../config/usage-report.js';
import type { UsageAggregator } from '../../../operator/budgets/usage-aggregator.js';
import type { Distributor } from '../../../operator/distribute/distributor.js';
import { createOperatorApp } from '../../../operator/distribute/operator-server.js';
import { createCa, issueCertificate } from '../../../operator/tls/certificates.js';
import { registerUsageReportFailures } from '../../telemetry/usage-backlog-metrics.js';
import { BudgetLedger } from './budget-ledger.js';
import { UsageReporter } from './usage-reporter.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** The operator's HTTP intake with the given admin token(s); the usage handler records what reaches it. */
async function operator(token: string | readonly string[]): Promise<{ url: string; reached: UsageReport[] }> {
  const reached: UsageReport[] = [];
  const usage = {
    handle: async (report: UsageReport): Promise<UsageReportResponse> => {
      reached.push(report);
      return { ackedThrough: Math.max(0, ...report.records.map((r) => r.seq)), replicas: 1, budgets: {} };
    },
  } as unknown as UsageAggregator;
  const app = createOperatorApp({
    token,
    usage,
    distributor: { envelope: {} } as unknown as Distributor,
    registry: new Registry(),
    isReady: () => true,
    isLeader: () => true,
    logger: pino({ level: 'silent' }),
  });
  server = createHttpServer(app as unknown as RequestListener).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reached };
}

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => (raw.push(chunk.toString()), done()) }));
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const record = (reporter: UsageReporter): void => reporter.record({ at: Date.now(), costUsd: 1, tokens: 1000, budgetIds: ['team-a/monthly'] }, []);

describe('admin token rotation', () => {
  it("an old pod's usage reaches the operator while the previous token is accepted, and the new token works too", async () => {
    const op = await operator(['new-token', 'old-token']);
    const oldPod = new UsageReporter(new BudgetLedger('old-pod', { standalone: false }), { operatorUrl: op.url, token: 'old-token', logger: pino({ level: 'silent' }) });
    const newPod = new UsageReporter(new BudgetLedger('new-pod', { standalone: false }), { operatorUrl: op.url, token: 'new-token', logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 50; i++) record(oldPod);
    record(newPod);
    // What SIGTERM does: report until everything is acknowledged.
    expect(await oldPod.drain(5_000)).toBe(true);
    expect(await newPod.drain(5_000)).toBe(true);
    expect(op.reached.filter((r) => r.pod === 'old-pod').flatMap((r) => r.records)).toHaveLength(50);
    expect(op.reached.filter((r) => r.pod === 'new-pod').flatMap((r) => r.records)).toHaveLength(1);
    expect(oldPod.failures.unauthorized).toBe(0);
  });

  it('a token the operator refuses is said at warn level (at most every 30 s) and counted', async () => {
    const op = await operator('new-token');
    const { logger, lines } = capture();
    const reporter = new UsageReporter(new BudgetLedger('old-pod', { standalone: false }), { operatorUrl: op.url, token: 'old-token', logger });
    const registry = new Registry();
    registerUsageReportFailures(registry, () => reporter.failures);
    record(reporter);
    for (let i = 0; i < 3; i++) await reporter.flush();
    expect(op.reached).toHaveLength(0);
    const warnings = lines().filter((l) => l.level === 40 && String(l.msg).includes('admin token'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ status: 401, records: 1, usd: 1 });
    expect(await registry.metrics()).toMatch(/^tollgate_usage_reports_failed_total\{reason="unauthorized"\} 3$/m);
    await reporter.drain(0);
  });
});

describe('channel CA rotation', () => {
  it('an operator certificate the pod does not trust is said at warn level and counted', async () => {
    const oldCa = createCa('old-ca', 1);
    const newCa = createCa('new-ca', 1);
    const leaf = issueCertificate(newCa, 'tollgate-operator', ['127.0.0.1'], 1);
    server = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('{}')).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { Agent } = await import('../../config/undici.js');
    const { logger, lines } = capture();
    const reporter = new UsageReporter(new BudgetLedger('old-pod', { standalone: false }), {
      operatorUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
      token: 't',
      logger,
      dispatcher: new Agent({ connect: { ca: oldCa.cert } }),
    });
    record(reporter);
    await reporter.flush();
    await reporter.flush();
    expect(reporter.failures.tls).toBe(2);
    expect(lines().filter((l) => l.level === 40 && String(l.msg).includes('TLS'))).toHaveLength(1);
    await reporter.drain(0);
  });
});
