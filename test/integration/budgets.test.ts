import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { anonymousRoute, dataplaneService, eventually, POD_NET, pricedUpstream, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

const IPS = [`${POD_NET}.11`, `${POD_NET}.12`, `${POD_NET}.13`];
const OPERATOR_PORT = 19191;
const OPERATOR_URL = `http://127.0.0.1:${OPERATOR_PORT}`;

let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc;
const pods = new Map<string, Proc>();

// pricedUpstream: a JSON answer (10 in, 5 out) costs $0.02, a 4-chunk stream (7 in, 4 out) $0.015.
const manifests = (upstreamUrl: string) => `${pricedUpstream('team-a', upstreamUrl)}---
${anonymousRoute('team-a', 'chat')}---
${anonymousRoute('team-a', 'capped')}---
${anonymousRoute('team-a', 'warmup')}---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: chat-monthly, namespace: team-a }
spec:
  limit: { amount: 1000, unit: USD }
  period: Month
  subjects: { routes: [{ name: chat }] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: capped-daily, namespace: team-a }
spec:
  limit: { amount: 0.2, unit: USD }
  period: Day
  subjects: { routes: [{ name: capped }] }
`;

interface BudgetObject {
  status?: { spent?: number; remaining?: number; periodStart?: string; resetsAt?: string; conditions?: { type: string; status: string; reason: string }[] };
}

function startPod(ip: string): void {
  pods.set(ip, startDataplane(ip, { operatorUrl: OPERATOR_URL }));
}

/** One request of each kind against a pod; resolves to the cost the upstream reported, or 0 when it failed. */
async function oneRequest(ip: string, model: string, stream: boolean, content = 'hi'): Promise<number> {
  const client = new OpenAI({ baseURL: `http://${ip}:8080/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
  try {
    if (stream) {
      const s = await client.chat.completions.create({ model, stream: true, max_tokens: 5, messages: [{ role: 'user', content }] });
      let chunks = 0;
      for await (const c of s) if (c.choices[0]?.delta.content) chunks++;
      return chunks === 4 ? 0.015 : Number.NaN;
    }
    await client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content }] });
    return 0.02;
  } catch (err) {
    if (process.env.DEBUG_BUDGETS) console.error('request failed', ip, model, (err as Error).message);
    return 0;
  }
}

async function load(total: number, concurrency: number, model: string, during?: (done: number) => Promise<void>, content?: string): Promise<{ spent: number; refused: number }> {
  let next = 0;
  let spent = 0;
  let refused = 0;
  let done = 0;
  const hooks: Promise<void>[] = [];
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const ip = IPS[i % IPS.length] ?? '';
      const cost = await oneRequest(ip, model, i % 2 === 0, content);
      if (Number.isNaN(cost)) throw new Error('a stream ended early');
      if (cost === 0) refused++;
      spent += cost;
      done++;
      if (during !== undefined) hooks.push(during(done));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await Promise.all(hooks);
  return { spent, refused };
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  streamsOn(upstream);
  k.kubectl(['create', 'namespace', 'team-a']);
  k.apply(manifests(upstream.baseUrl));
  for (const ip of IPS) startPod(ip);
  k.apply(dataplaneService(IPS));
  operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'budget-operator' });
  for (const ip of IPS) await eventually(() => oneRequest(ip, 'warmup', false).then((c) => expect(c).toBe(0.02)), `pod ${ip} serving`, 30_000);
}, 120_000);

afterAll(async () => {
  await operator?.kill();
  for (const p of pods.values()) await p.kill();
  await upstream?.close();
  await k?.stop();
});

const spentOf = (name: string): number => k.get<BudgetObject>('budget', name, 'team-a').status?.spent ?? 0;
/** Equal to the cent: both sides sum the same float costs, so they differ only by rounding noise. */
const toTheCent = (actual: number, expected: number): void => {
  expect(Math.abs(actual - expected)).toBeLessThan(0.005);
};

describe('budgets that lose nothing', () => {
  it('spends exactly what the upstream reported, across three pods, streaming and not', async () => {
    const before = spentOf('chat-monthly');
    const { spent } = await load(90, 9, 'chat');
    await eventually(() => toTheCent(spentOf('chat-monthly') - before, spent), 'Budget.status.spent to match', 20_000);
    expect(Math.abs(spentOf('chat-monthly') - before - spent)).toBeLessThan(1e-6);
    const status = k.get<BudgetObject>('budget', 'chat-monthly', 'team-a').status;
    expect(status?.remaining).toBeCloseTo(1000 - (status?.spent ?? 0), 6);
    expect(status?.periodStart).toMatch(/^\d{4}-\d{2}-01T00:00:00Z$/);
    expect(status?.resetsAt).toMatch(/^\d{4}-\d{2}-01T00:00:00Z$/);
  });

  it('loses nothing and counts nothing twice while a pod is stopped and the operator restarts mid-load', async () => {
    streamsOn(upstream);
    const before = spentOf('chat-monthly');
    const faults = async (done: number): Promise<void> => {
      if (done === 20) {
        await pods.get(IPS[0] ?? '')?.kill('SIGTERM'); // a rolling restart: drain, report, exit
        startPod(IPS[0] ?? '');
      }
      if (done === 40) {
        await operator.kill();
        operator = startOperator(k.operatorKubeconfig, { port: OPERATOR_PORT, identity: 'budget-operator-2' });
      }
    };
    const { spent } = await load(120, 6, 'chat', faults);
    await eventually(() => toTheCent(spentOf('chat-monthly') - before, spent), 'spend to settle after the faults', 45_000);
    expect(Math.abs(spentOf('chat-monthly') - before - spent)).toBeLessThan(1e-6);
  });

  it('charges a request still running when the drain ends its worst case, rather than nothing', async () => {
    const ip = IPS[0] ?? '';
    await pods.get(ip)?.kill('SIGTERM');
    pods.set(ip, startDataplane(ip, { operatorUrl: OPERATOR_URL, args: ['--drain-timeout', '1'] }));
    // Serving the Budget's own route: a new pod refuses requests under reported Budgets (503
    // budget_unavailable) until the operator has answered its first usage report, and a slow request
    // refused so would never be in flight when the drain ends.
    const warmed = spentOf('chat-monthly');
    await eventually(() => oneRequest(ip, 'chat', false).then((c) => expect(c).toBe(0.02)), `pod ${ip} serving chat`, 30_000);
    // That request's own spend, persisted before the measurement starts (refused tries cost nothing).
    await eventually(() => toTheCent(spentOf('chat-monthly') - warmed, 0.02), 'the warm-up request to be charged');
    const before = spentOf('chat-monthly');
    // A non-streaming answer slower than the drain and the wait after it: its usage cannot be known before exit.
    upstream.script({ kind: 'ok', delayMs: 6_000 });
    const slow = oneRequest(ip, 'chat', false);
    await new Promise((r) => setTimeout(r, 300));
    await pods.get(ip)?.kill('SIGTERM');
    expect(await slow).toBe(0);
    streamsOn(upstream);
    // Prompt estimate plus max_tokens (5) at the route's prices: more than nothing, less than a cent's tenth of the limit.
    await eventually(() => expect(spentOf('chat-monthly') - before).toBeGreaterThan(0.001), 'the worst case to be charged', 20_000);
    expect(spentOf('chat-monthly') - before).toBeLessThan(0.1);
    startPod(ip);
    await eventually(() => oneRequest(ip, 'warmup', false).then((c) => expect(c).toBe(0.02)), `pod ${ip} serving again`, 30_000);
  });

  // Every data-plane pod start is a new name: before, each stayed in appliedThrough for good, until
  // the Budget passed etcd's object size and every usage report failed.
  it('keeps appliedThrough bounded: a status holding more pods than the bound shrinks, and the spend stays exact', async () => {
    streamsOn(upstream);
    const gone = Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`gone-pod-${String(i).padStart(4, '0')}`, 1]));
    const patched = JSON.parse(k.kubectl(['patch', 'budget', 'chat-monthly', '-n', 'team-a', '--subresource=status', '--type=merge', '-o', 'json', '-p', JSON.stringify({ status: { appliedThrough: gone } })])) as { status?: { appliedThrough?: Record<string, number> } };
    const pods = (): number => Object.keys(k.get<{ status?: { appliedThrough?: Record<string, number> } }>('budget', 'chat-monthly', 'team-a').status?.appliedThrough ?? {}).length;
    // As the API server stored it (the leader, seeing records it did not count, may read it again and shrink it at once).
    expect(Object.keys(patched.status?.appliedThrough ?? {}).length).toBeGreaterThan(1100);
    const before = spentOf('chat-monthly');
    // The leader reads the status again (its next write refused, or the records it did not count seen), with the 1100 gone pods, and removes them past the bound.
    const { spent } = await load(30, 3, 'chat');
    await eventually(() => expect(pods()).toBeLessThanOrEqual(1000), 'appliedThrough to shrink to the bound', 20_000);
    await eventually(() => toTheCent(spentOf('chat-monthly') - before, spent), 'spend to settle', 20_000);
    expect(Math.abs(spentOf('chat-monthly') - before - spent)).toBeLessThan(1e-6);
  });

  it('never overspends a hard budget by more than one request reservation', async () => {
    streamsOn(upstream);
    // 22 prompt tokens estimated for one 60-character message (16 + 3 a message + 3 for the reply),
    // max_tokens 5: a reservation of $0.032.
    const { spent, refused } = await load(60, 9, 'capped', undefined, 'x'.repeat(60));
    expect(refused).toBeGreaterThan(0);
    if (process.env.DEBUG_BUDGETS) console.error('capped client-side spent', spent, 'refused', refused);
    // Under concurrent load a pod refuses as soon as its in-flight holds fill its share, so where the
    // load stops depends on timing. Top up one request per pod at a time, each round after every
    // report is persisted (no unreported spend, no holds): a pod then refuses only when its share of
    // what is left (left / 3 pods) is below one $0.032 hold, so once all three refuse, less than
    // 3 × $0.032 is left and more than $0.104 was spent — whatever the timing of the load.
    let total = spent;
    for (let round = 0; round < 20; round++) {
      await eventually(() => toTheCent(spentOf('capped-daily'), total), 'capped spend persisted', 20_000);
      let served = 0;
      for (const ip of IPS) {
        const cost = await oneRequest(ip, 'capped', false, 'x'.repeat(60));
        total += cost;
        if (cost > 0) served++;
      }
      if (served === 0) break;
    }
    await eventually(() => toTheCent(spentOf('capped-daily'), total), 'capped spend persisted', 20_000);
    expect(spentOf('capped-daily')).toBeLessThanOrEqual(0.2 + 0.032 + 1e-9);
    expect(spentOf('capped-daily')).toBeGreaterThan(0.1);
    await eventually(() => {
      const c = (k.get<BudgetObject>('budget', 'capped-daily', 'team-a').status?.conditions ?? []).find((x) => x.type === 'ThresholdReached');
      expect(c?.status).toBe('True');
    }, 'ThresholdReached', 10_000);
    const err = await new OpenAI({ baseURL: `http://${IPS[1] ?? ''}:8080/v1`, apiKey: 'x', maxRetries: 0 }).chat.completions
      .create({ model: 'capped', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(60) }] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, code: 'budget_exceeded' });
    // Exhausted, or (just below the limit) the hold this request needs is more than this pod's share of what is left.
    expect((err as Error).message).toMatch(/budget team-a\/capped-daily (is exhausted: .* of 0.2 USD spent this period; it resets at|cannot cover this request's worst case: .*set max_tokens)/);
  });
});

/** The emulator streams 4 chunks when asked to stream and answers JSON otherwise. */
function streamsOn(up: OpenAiUpstream): void {
  up.script({ kind: 'auto', chunks: 4 });
}

describe('Budget Events on transitions', () => {
  interface EventItem {
    type: string;
    reason: string;
    message: string;
  }
  const eventsOf = (name: string): EventItem[] =>
    (JSON.parse(k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: EventItem[] }).items;
  const probe = (amount: number) => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: events-probe, namespace: team-a }
spec:
  limit: { amount: ${amount}, unit: USD }
  period: Month
  subjects: { routes: [{ name: warmup }] }
  thresholds: [50, 80, 100]
`;

  it('records no Warning for a healthy new Budget, and a Normal Event when a lowered limit crosses a threshold', async () => {
    // The pod the fault test restarted may still be starting on a loaded machine (it refused
    // connections through the whole hard-budget test in runs at load 10-13): wait until every pod
    // serves, before the Budget exists, so these requests count towards nothing this test checks.
    for (const ip of IPS) await eventually(() => oneRequest(ip, 'warmup', false).then((c) => expect(c).toBe(0.02)), `pod ${ip} serving`, 30_000);
    k.apply(probe(1000));
    await eventually(() => {
      const conditions = k.get<BudgetObject>('budget', 'events-probe', 'team-a').status?.conditions ?? [];
      expect(conditions.find((x) => x.type === 'ThresholdReached')).toMatchObject({ status: 'False', reason: 'BelowThresholds' });
      // Every pod serves the snapshot with the Budget, so each request below is charged to it (the
      // status is written apart from the push, and a pod still on the last snapshot charges nothing).
      expect(conditions.find((x) => x.type === 'Programmed')).toMatchObject({ status: 'True' });
    }, 'ThresholdReached=False and Programmed=True');
    for (let i = 0; i < 3; i++) expect(await oneRequest(IPS[i] ?? '', 'warmup', false)).toBe(0.02);
    await eventually(() => toTheCent(spentOf('events-probe'), 0.06), 'the spend to be persisted');
    expect(eventsOf('events-probe').filter((e) => e.type === 'Warning')).toEqual([]);

    k.apply(probe(0.1)); // 0.06 of 0.1: the 50% threshold is crossed without any new spend
    const crossed = await eventually(() => {
      const found = eventsOf('events-probe').find((e) => e.reason === 'BudgetThresholdReached');
      if (found === undefined) throw new Error('no event yet');
      return found;
    }, 'a BudgetThresholdReached Event');
    expect(crossed).toMatchObject({ type: 'Normal', message: 'at least 50% of the limit of 0.1 USD spent: 0.06 of 0.1 USD spent (60%)' });
    const condition = (k.get<BudgetObject>('budget', 'events-probe', 'team-a').status?.conditions ?? []).find((x) => x.type === 'ThresholdReached');
    expect(condition).toMatchObject({ status: 'True', reason: 'Reached50Percent' });
    expect(eventsOf('events-probe').filter((e) => e.type === 'Warning')).toEqual([]);
  });
});
