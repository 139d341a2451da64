import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { registerUsageBacklog } from '../../telemetry/usage-backlog-metrics.js';
import { BudgetLedger } from './budget-ledger.js';
import { UsageReporter } from './usage-reporter.js';

describe('usage reports waiting to be sent', () => {
  it('are shown by metrics and a log line while the operator does not acknowledge them', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    // Nothing listens on port 1: every report fails, as while the operator is down.
    const reporter = new UsageReporter(new BudgetLedger('pod-1', { standalone: false }), { operatorUrl: 'http://127.0.0.1:1', token: 't', intervalMs: 50, logger });
    const registry = new Registry();
    registerUsageBacklog(registry, () => reporter.backlog());
    reporter.record({ at: Date.now(), costUsd: 0.25, tokens: 10, budgetIds: ['team-a/b'] }, []);
    reporter.start();
    const text = await registry.metrics();
    expect(text).toMatch(/^tollgate_usage_reports_pending 1$/m);
    expect(text).toMatch(/^tollgate_usage_reports_pending_usd 0.25$/m);
    // Bounded by the test's timeout, not by a count of sleeps: on a loaded machine 60 × 100 ms ran out first.
    await vi.waitFor(() => expect(lines.some((l) => l.includes('usage reports waiting to be sent'))).toBe(true), { timeout: 25_000, interval: 100 });
    expect(JSON.parse(lines.find((l) => l.includes('usage reports waiting to be sent')) ?? '{}')).toMatchObject({ records: 1, usd: 0.25 });
    const oldest = /^tollgate_usage_reports_oldest_pending_seconds (\S+)$/m.exec(await registry.metrics())?.[1];
    expect(Number(oldest)).toBeGreaterThanOrEqual(2);
    await reporter.drain(0);
  });
});

describe('a budget usage record', () => {
  it('goes to the operator with its fields in the order it always had, numbered', async () => {
    const bodies: string[] = [];
    const operator = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        bodies.push(body);
        res.statusCode = 503;
        res.end();
      });
    });
    operator.listen(0, '127.0.0.1');
    await once(operator, 'listening');
    try {
      const url = `http://127.0.0.1:${(operator.address() as AddressInfo).port}`;
      const reporter = new UsageReporter(new BudgetLedger('pod-1', { standalone: false }), { operatorUrl: url, token: 't', logger: pino({ level: 'silent' }) });
      reporter.record({ at: 1_700_000_000_000, costUsd: 0.25, tokens: 10, budgetIds: ['team-a/b', 'team-a/c'] }, []);
      reporter.record({ at: 1_700_000_000_001, costUsd: 0, tokens: 3, budgetIds: ['team-a/b'] }, []);
      await reporter.flush();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toContain(
        '"records":[{"at":1700000000000,"costUsd":0.25,"tokens":10,"budgetIds":["team-a/b","team-a/c"],"seq":1},{"at":1700000000001,"costUsd":0,"tokens":3,"budgetIds":["team-a/b"],"seq":2}]',
      );
    } finally {
      operator.close();
    }
  });
});

describe('a usage report the operator refuses (403)', () => {
  // The operator answers 403 only when a report names a data-plane pod it does not come from; the
  // log blamed the admin token (a 401), which sent the reader to the wrong place.
  it('is logged with the operator\'s reason, not as a token mismatch', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const operator = createServer((req, res) => {
      req.resume();
      res.statusCode = 403;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: 'usage report refused: the report names data-plane pod dp-a, but comes from another data-plane pod\'s address' }));
    });
    operator.listen(0, '127.0.0.1');
    await once(operator, 'listening');
    try {
      const url = `http://127.0.0.1:${(operator.address() as AddressInfo).port}`;
      const reporter = new UsageReporter(new BudgetLedger('pod-1', { standalone: false }), { operatorUrl: url, token: 't', logger });
      reporter.record({ at: Date.now(), costUsd: 0.25, tokens: 10, budgetIds: ['team-a/b'] }, []);
      await reporter.flush();
      const line = JSON.parse(lines.find((l) => l.includes('usage report refused')) ?? '{}') as { msg?: string; error?: string };
      expect(line.error).toMatch(/names data-plane pod dp-a/);
      expect(line.msg).not.toMatch(/token/);
    } finally {
      operator.close();
    }
  });
});

describe('draining usage reports on shutdown', () => {
  it('gives up at its deadline, cutting the send an operator holds without answering', async () => {
    // An operator that reads the report and never answers (a leader stuck mid-failover).
    const held: { closed: boolean }[] = [];
    const operator = createServer((req) => {
      const h = { closed: false };
      held.push(h);
      req.resume();
      req.socket.on('close', () => (h.closed = true));
    });
    operator.listen(0, '127.0.0.1');
    await once(operator, 'listening');
    // Only the reporter's own timers are faked: sockets and setImmediate stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const url = `http://127.0.0.1:${(operator.address() as AddressInfo).port}`;
      const reporter = new UsageReporter(new BudgetLedger('pod-1', { standalone: false }), { operatorUrl: url, token: 't', logger: pino({ level: 'silent' }) });
      reporter.record({ at: Date.now(), costUsd: 0.25, tokens: 10, budgetIds: ['team-a/b'] }, []);
      let result: boolean | undefined;
      const drained = reporter.drain(3_000).then((r) => (result = r));
      // vi.waitUntil would advance the faked clock: wait on real I/O turns instead, bounded in real time.
      const until = async (done: () => boolean): Promise<void> => {
        const start = performance.now();
        while (!done() && performance.now() - start < 5_000) await new Promise((r) => setImmediate(r));
      };
      const settle = async (): Promise<void> => {
        for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      };
      await until(() => held.length === 1);
      expect(held).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(2_999);
      await settle();
      expect(result, 'still reporting before the deadline').toBeUndefined();
      expect(held[0]?.closed).toBe(false);
      // At the deadline the held send is aborted (a send's own timeout is 10 s): the drain ends unacknowledged.
      await vi.advanceTimersByTimeAsync(1);
      await until(() => result !== undefined);
      expect(result, 'drain ended at its deadline').toBe(false);
      await drained;
      expect(reporter.unacknowledged).toBe(1);
      await until(() => held[0]?.closed === true);
      expect(held[0]?.closed).toBe(true);
    } finally {
      vi.useRealTimers();
      operator.closeAllConnections();
      operator.close();
    }
  });
});
