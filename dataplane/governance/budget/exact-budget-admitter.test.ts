import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CHARGE_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT } from '../../config/exact-budget-ledger.js';
import { RedisScript } from '../rate-limit/redis-script.js';
import type { AdmissionRequest } from '../types.js';
import { ExactBudgetAdmitter } from './exact-budget-admitter.js';
import { testBudget, testCaller, testRequest, testRoute } from './test-support.js';

// The exact mode's admitter against a Redis that refuses some scripts (the ledger itself runs in
// test/redis/exact-budget-redis.test.ts, on a real redis-server).

const SHA = { reserve: new RedisScript(RESERVE_SCRIPT).sha, charge: new RedisScript(CHARGE_SCRIPT).sha, settle: new RedisScript(SETTLE_SCRIPT).sha };

/** A Redis whose reservations always fit, whose charges fail while `failCharges` is set, and which records each settle's amounts. */
function flakyRedis() {
  const state = { failCharges: false, charged: [] as number[], settled: [] as number[][] };
  const client = {
    evalsha: (sha: string, keys: number, ...rest: (string | number)[]): Promise<unknown> => {
      const args = rest.slice(keys);
      if (sha === SHA.reserve) return Promise.resolve([0]);
      if (sha === SHA.charge) {
        if (state.failCharges) return Promise.reject(new Error('Connection is closed.'));
        state.charged.push(Number(args[2]));
        return Promise.resolve(1);
      }
      if (sha === SHA.settle) state.settled.push(args.slice(3).map(Number));
      return Promise.resolve(1);
    },
  };
  return { state, client: client as unknown as Redis };
}

const budget = testBudget({ id: 'team-a/monthly', period: 'Month' });
const connection: AdmissionRequest = { caller: testCaller, route: testRoute, req: testRequest, promptTokens: 0, maxOutputTokens: 0, budgets: [budget] };
const response = (costUsd: number) => ({ usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0 }, costUsd });

describe('ExactBudgetAdmitter', () => {
  it("adds a charge that could not reach Redis to its admission's settle: a Realtime response charged during a Redis hiccup is still counted", async () => {
    const { state, client } = flakyRedis();
    const admitter = new ExactBudgetAdmitter({ client, keyPrefix: 'tollgate:', pod: 'p', holdTimeoutMs: 30_000, logger: pino({ level: 'silent' }), now: () => Date.parse('2026-11-15T12:00:00Z') });
    const admission = await admitter.admit(connection);
    admission.charge(response(0.25));
    state.failCharges = true;
    admission.charge(response(0.35));
    admission.charge(response(0.05));
    await admitter.stop();
    state.failCharges = false;
    // Before, the two failed charges were logged and the settle counted only what it was given.
    admission.settle(response(0.1));
    await admitter.stop();
    expect(state.charged).toEqual([0.25]);
    expect(state.settled).toHaveLength(1);
    expect(state.settled[0]?.[0]).toBeCloseTo(0.1 + 0.35 + 0.05, 12);
  });
});
