import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { testBudget } from '../../dataplane/governance/budget/test-support.js';
import type { Condition } from '../api/common.js';
import { KubeError, type KubeObject } from '../kube/kube-client.js';
import { ExactBudgetMirror } from './exact-budget-mirror.js';
import { SHARED_CONDITION } from './shared-condition.js';

// Two installations watching one namespace, in the exact mode: the one the status does not name
// keeps its spend in its own Redis ledger, out of status.spent. It said so with an Event alone,
// which `kubectl get` and the conditions platform teams read do not show, and which expires.

const OWNER = 'team-a/a-operator';
const SHARER = 'team-b/b-operator';
const budget = testBudget({ id: 'team-a/monthly', period: 'Month' });

/** One Budget as the API server keeps it (resourceVersion, conditional merge patches of status); the informer shows it live. */
function apiServer(status: Record<string, unknown>) {
  const stored = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'Budget', metadata: { name: 'monthly', namespace: 'team-a', generation: 1, resourceVersion: '1' }, status: { ...status } } as KubeObject & {
    status: { conditions?: Condition[]; installation?: string };
  };
  const writes: Record<string, unknown>[] = [];
  const hooks: { beforeWrite?: () => void } = {};
  const bump = (): void => {
    stored.metadata.resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
  };
  return {
    stored,
    writes,
    hooks,
    bump,
    client: {
      request: async <T>(_m: string, _p: string, body?: unknown): Promise<T> => {
        hooks.beforeWrite?.();
        const patch = body as { metadata?: { resourceVersion?: string }; status: Record<string, unknown> };
        const wanted = patch.metadata?.resourceVersion;
        if (wanted !== undefined && wanted !== stored.metadata.resourceVersion) throw new KubeError(409, 'the object has been modified');
        writes.push(patch.status);
        stored.status = { ...stored.status, ...patch.status };
        bump();
        return structuredClone(stored) as T;
      },
    },
  };
}

function mirrorOf(api: ReturnType<typeof apiServer>, opts: { configs?: () => ReturnType<typeof testBudget>[]; known?: () => boolean; clock?: { now: number } } = {}) {
  const events: string[] = [];
  const clock = opts.clock ?? { now: Date.parse('2026-11-15T12:00:00Z') };
  // The shared path never reads the ledger; the owner's reads an empty one.
  const redis = { eval: async () => ['0', '0'], disconnect: () => undefined } as unknown as Redis;
  const mirror = new ExactBudgetMirror({
    redis,
    keyPrefix: 'tollgate:',
    client: api.client,
    budgetObjects: () => new Map([[budget.id, structuredClone(api.stored)]]),
    budgetConfigs: opts.configs ?? (() => [budget]),
    ...(opts.known === undefined ? {} : { budgetsKnown: opts.known }),
    isLeader: () => true,
    logger: pino({ level: 'silent' }),
    installation: SHARER,
    events: { record: async (_o, type, reason) => void events.push(`${type} ${reason}`) },
    now: () => clock.now,
  });
  return { mirror, events, clock };
}

const shared = (api: ReturnType<typeof apiServer>): Condition | undefined => api.stored.status.conditions?.find((c) => c.type === SHARED_CONDITION);

describe('ExactBudgetMirror on a Budget another installation mirrors', () => {
  const accepted: Condition = { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok', observedGeneration: 1, lastTransitionTime: '2026-11-01T00:00:00Z' };

  it('sets SharedWithAnotherInstallation=True on it (the owner\'s conditions kept), once, and moves only its observedGeneration with the spec', async () => {
    const api = apiServer({ installation: OWNER, spent: 0.9, conditions: [accepted] });
    const { mirror, events, clock } = mirrorOf(api);
    await mirror.sync();
    await mirror.sync();
    expect(api.stored.status.conditions).toEqual([
      accepted,
      {
        type: SHARED_CONDITION,
        status: 'True',
        reason: 'SpendNotInStatus',
        message: expect.stringMatching(new RegExp(`^the installation ${SHARER} also serves this Budget .* not in status\\.spent, which ${OWNER} writes`)),
        observedGeneration: 1,
        lastTransitionTime: '2026-11-15T12:00:00Z',
      },
    ]);
    expect(api.writes).toHaveLength(1);
    // Only conditions: not the spend, which the owner writes.
    expect(Object.keys(api.writes[0] ?? {})).toEqual(['conditions']);
    expect(events).toEqual(['Warning SharedWithAnotherInstallation']);
    // An operator restarted (a new process) finds it said already: no second Event.
    const restarted = mirrorOf(api, { clock });
    await restarted.mirror.sync();
    expect(restarted.events).toEqual([]);
    expect(api.writes).toHaveLength(1);
    // The spec is edited: observedGeneration follows, lastTransitionTime stays.
    clock.now += 60_000;
    api.stored.metadata.generation = 2;
    await mirror.sync();
    expect(shared(api)).toMatchObject({ observedGeneration: 2, lastTransitionTime: '2026-11-15T12:00:00Z' });
    expect(api.stored.status).toMatchObject({ installation: OWNER, spent: 0.9 });
  });

  it('writes over the version it read only: a status changed meanwhile is looked at again at the next pass', async () => {
    const api = apiServer({ installation: OWNER, conditions: [accepted] });
    const { mirror } = mirrorOf(api);
    let once = true;
    api.hooks.beforeWrite = () => {
      if (!once) return;
      once = false;
      // The owner's status writer got there first (its conditions, without ours).
      api.stored.status = { ...api.stored.status, conditions: [{ ...accepted, message: 'changed' }] };
      api.bump();
    };
    await expect(mirror.sync()).resolves.toBeUndefined();
    expect(shared(api)).toBeUndefined();
    await mirror.sync();
    expect(api.stored.status.conditions?.map((c) => `${c.type} ${c.message.slice(0, 7)}`)).toEqual(['Accepted changed', `${SHARED_CONDITION} the ins`]);
  });

  it('removes its condition once it writes the status itself (handed over), or no longer serves the Budget as an exact one', async () => {
    const api = apiServer({ installation: OWNER, conditions: [accepted] });
    const { mirror } = mirrorOf(api);
    await mirror.sync();
    expect(shared(api)?.status).toBe('True');
    // Handed over: status.installation removed by hand.
    delete api.stored.status.installation;
    await mirror.sync();
    expect(api.stored.status.conditions).toEqual([accepted]);

    // Not an exact Budget of this installation any more (a rolling window now: both count it).
    const api2 = apiServer({ installation: OWNER, conditions: [accepted] });
    let configs = [budget];
    let known = true;
    const second = mirrorOf(api2, { configs: () => configs, known: () => known });
    await second.mirror.sync();
    expect(shared(api2)?.status).toBe('True');
    // Before its first snapshot an operator knows no Budget: nothing is withdrawn then.
    configs = [];
    known = false;
    await second.mirror.sync();
    expect(shared(api2)?.status).toBe('True');
    known = true;
    await second.mirror.sync();
    expect(api2.stored.status.conditions).toEqual([accepted]);
  });

  it('withdraws nothing when its write fails (the API server down): the condition stays until it can be written', async () => {
    const api = apiServer({ installation: OWNER, conditions: [accepted] });
    const { mirror } = mirrorOf(api);
    await mirror.sync();
    api.stored.metadata.generation = 2; // a write is due
    api.hooks.beforeWrite = () => {
      api.hooks.beforeWrite = undefined; // the next write goes through
      throw new KubeError(503, 'unavailable');
    };
    await mirror.sync();
    expect(shared(api)).toMatchObject({ status: 'True', observedGeneration: 1 });
    await mirror.sync();
    expect(shared(api)).toMatchObject({ status: 'True', observedGeneration: 2 });
  });

  it("leaves a third installation's condition as it is (one condition per type), and does not remove it", async () => {
    const third: Condition = {
      type: SHARED_CONDITION,
      status: 'True',
      reason: 'SpendNotInStatus',
      message: `the installation team-c/c-operator also serves this Budget (exact mode) and keeps its data planes' spend in its own Redis ledger`,
      observedGeneration: 1,
      lastTransitionTime: '2026-11-01T00:00:00Z',
    };
    const api = apiServer({ installation: OWNER, conditions: [accepted, third] });
    const { mirror, events } = mirrorOf(api);
    await mirror.sync();
    expect(api.writes).toEqual([]);
    expect(events).toEqual([]); // said by the installation whose condition it is
    delete api.stored.status.installation;
    await mirror.sync();
    expect(api.stored.status.conditions).toEqual([accepted, third]);
  });
});

describe('ExactBudgetMirror when spec.limit.unit changes', () => {
  // The ledger's keys name the unit, so the count starts at 0 in the new one; the reported mode says
  // so with a BudgetSpendReset Warning, the exact mode said nothing (the status only showed a drop).
  const tokens = testBudget({ id: 'team-a/monthly', period: 'Month', unit: 'Tokens', amount: 1000 });
  const usd = { ...tokens, unit: 'USD' as const, amount: 5 };
  const thisMonth = { periodStart: '2026-11-01T00:00:00Z', resetsAt: '2026-12-01T00:00:00Z' };

  function owner(api: ReturnType<typeof apiServer>, config: () => ReturnType<typeof testBudget>) {
    const events: { reason: string; message: string }[] = [];
    const mirror = new ExactBudgetMirror({
      redis: { eval: async () => ['0', '0'], disconnect: () => undefined } as unknown as Redis,
      keyPrefix: 'tollgate:',
      client: api.client,
      budgetObjects: () => new Map([[tokens.id, structuredClone(api.stored)]]),
      budgetConfigs: () => [config()],
      isLeader: () => true,
      logger: pino({ level: 'silent' }),
      installation: OWNER,
      events: { record: async (_o, _t, reason, message) => void events.push({ reason, message }) },
      now: () => Date.parse('2026-11-15T12:00:00Z'),
    });
    return { mirror, events };
  }

  it('records one BudgetSpendReset naming what was spent in the old unit, by the write that moves status.unit', async () => {
    const api = apiServer({ installation: OWNER, spent: 600, unit: 'Tokens', ...thisMonth });
    let config = tokens;
    const { mirror, events } = owner(api, () => config);
    await mirror.sync();
    expect(events).toEqual([]);
    config = usd;
    await mirror.sync();
    await mirror.sync();
    expect(api.stored.status).toMatchObject({ spent: 0, remaining: 5, unit: 'USD' });
    expect(events).toEqual([
      { reason: 'BudgetSpendReset', message: 'spec.limit.unit changed from Tokens to USD: the 600 Tokens spent this period cannot be counted in USD, so the count starts again at 0 USD' },
    ]);
  });

  it('is said by no writer whose write meets another (that one moved the unit and said so), and names no spend of a period before', async () => {
    const api = apiServer({ installation: OWNER, spent: 600, unit: 'Tokens', ...thisMonth });
    const { mirror, events } = owner(api, () => usd);
    // Another leader's write lands between this one's read and its write.
    api.hooks.beforeWrite = () => {
      api.hooks.beforeWrite = undefined;
      api.stored.status = { ...api.stored.status, spent: 0, unit: 'USD' } as typeof api.stored.status;
      api.bump();
    };
    await mirror.sync();
    await mirror.sync();
    expect(events).toEqual([]);
    expect(api.writes).toEqual([]);

    const before = apiServer({ installation: OWNER, spent: 900, unit: 'Tokens', periodStart: '2026-10-01T00:00:00Z', resetsAt: '2026-11-01T00:00:00Z' });
    const late = owner(before, () => usd);
    await late.mirror.sync();
    expect(late.events.map((e) => e.message)).toEqual(['spec.limit.unit changed from Tokens to USD: the 0 Tokens spent this period cannot be counted in USD, so the count starts again at 0 USD']);
  });
});
