import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BudgetConfig, RouteConfig } from '../../config/snapshot.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import type { Caller } from '../../core/caller.js';
import type { AdmissionRequest } from '../types.js';
import { ANONYMOUS } from '../../core/caller.js';
import { applicableBudgets, BudgetAdmitter, Downgrade, worstCase } from './budget-admitter.js';
import { BudgetLedger } from './budget-ledger.js';
import { UsageReporter } from './usage-reporter.js';
import { testBudget, testCaller, testRequest, testRoute } from './test-support.js';
import type { PromptMedia } from '../../metering/token-estimate.js';

const budget = testBudget;
const route = testRoute;
const caller = testCaller;
const req = testRequest;

function setup(budgets: BudgetConfig[], standalone = true) {
  const ledger = new BudgetLedger('pod-1', { standalone });
  const reporter = new UsageReporter(ledger, { logger: pino({ level: 'silent' }) });
  const admitter = new BudgetAdmitter(ledger, reporter, () => Date.parse('2026-11-15T12:00:00Z'));
  // Every request carries the budgets of the snapshot it is pinned to.
  return { ledger, admitter: { admit: (request: Ask) => admitter.admit({ ...request, budgets }) } };
}

// At $1000 per million tokens both ways, 100 prompt + 300 output tokens cost at most $0.40.
const ask = { caller, route, req, promptTokens: 100, maxOutputTokens: 300 };
type Ask = Omit<AdmissionRequest, 'budgets'>;

describe('BudgetAdmitter', () => {
  it('reserves the worst case and refuses what the reservations cannot cover', async () => {
    const { admitter } = setup([budget()]);
    const a = await admitter.admit(ask);
    const b = await admitter.admit(ask);
    await expect(admitter.admit(ask)).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    a.settle({ usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0 }, costUsd: 0.15 });
    b.settle({ usage: undefined, costUsd: 0 });
    // 0.15 spent, nothing reserved: 0.85 left covers two more worst cases of 0.40.
    await admitter.admit(ask);
    await admitter.admit(ask);
    // Not exhausted (0.15 of 1 spent): the two holds in flight leave 0.05, less than this request's 0.40.
    await expect(admitter.admit(ask)).rejects.toThrow(
      "budget team-a/b cannot cover this request's worst case: it would hold 0.4000 USD (prompt estimate plus the output cap at the route's priciest target) but only 0.0500 USD are available: 0.1500 of 1 USD spent this period, 0.8500 left, less 0.8000 held for requests in flight; set max_tokens (or max_completion_tokens) to lower the hold",
    );
  });

  it("holds twice the worst case for a request that asks for OpenAI's priority tier, which its answer is charged at", async () => {
    // Before, it held $0.40 and its answer was charged up to $0.80: two such requests passed a $1 Budget by 60 %.
    const { admitter } = setup([budget()]);
    const priority = { ...ask, req: { ...req, body: { service_tier: 'priority' } } };
    await admitter.admit(priority);
    await expect(admitter.admit(priority)).rejects.toThrow('it would hold 0.8000 USD');
    // A Responses request asks in its native body.
    await expect(admitter.admit({ ...ask, req: { ...req, native: { api: 'responses', body: { service_tier: 'priority' } } } })).rejects.toThrow('it would hold 0.8000 USD');
    // Any other tier holds the standard worst case: two fit.
    const other = setup([budget()]).admitter;
    await other.admit({ ...ask, req: { ...req, body: { service_tier: 'flex' } } });
    await other.admit({ ...ask, req: { ...req, body: { service_tier: 'default' } } });
  });

  it('charge records spend at once, while the admission holds on; settle then records only what it is given, and nothing after', async () => {
    const { admitter, ledger } = setup([budget()]);
    const b = budget();
    const at = Date.parse('2026-11-15T12:00:00Z');
    const connection = await admitter.admit({ ...ask, promptTokens: 0, maxOutputTokens: 0 });
    connection.charge({ usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 }, costUsd: 0.35 });
    connection.charge({ usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 }, costUsd: 0.35 });
    expect(ledger.spent(b, at).spent).toBeCloseTo(0.7, 12);
    // 0.7 of 1 spent: a worst case of 0.40 is not covered any more.
    await expect(admitter.admit(ask)).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    connection.settle({ usage: undefined, costUsd: 0 });
    connection.charge({ usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 }, costUsd: 0.35 });
    expect(ledger.spent(b, at).spent).toBeCloseTo(0.7, 12);
  });

  it('charges every admission still open its worst case at exit, once, and nothing twice if it settles later', async () => {
    const ledger = new BudgetLedger('pod-1', { standalone: true });
    const reporter = new UsageReporter(ledger, { logger: pino({ level: 'silent' }) });
    const admitter = new BudgetAdmitter(ledger, reporter, () => Date.parse('2026-11-15T12:00:00Z'));
    const b = budget();
    const settled = admitter.admitNow({ ...ask, budgets: [b] });
    settled.settle({ usage: { inputTokens: 100, outputTokens: 10, cachedInputTokens: 0 }, costUsd: 0.11 });
    const open = admitter.admitNow({ ...ask, budgets: [b] });
    expect(admitter.unsettled).toBe(1);
    expect(admitter.settleOpenAtWorstCase()).toBe(1);
    expect(admitter.unsettled).toBe(0);
    // 0.11 used plus the open one's worst case of 0.40; nothing held any more.
    const now = Date.parse('2026-11-15T12:00:00Z');
    expect(ledger.spent(b, now).spent).toBeCloseTo(0.51, 9);
    expect(ledger.available(b, now).reserved).toBe(0);
    open.settle({ usage: { inputTokens: 100, outputTokens: 1, cachedInputTokens: 0 }, costUsd: 0.101 });
    expect(ledger.spent(b, now).spent).toBeCloseTo(0.51, 9);
    expect(admitter.settleOpenAtWorstCase()).toBe(0);
  });

  it("counts an anonymous caller against the namespace of the route it used, and nothing else it cannot name", () => {
    const onNamespace = budget({ id: 'platform/team-a', subjects: { namespaces: ['team-a'], serviceAccounts: [], apiKeys: [], routes: [] } });
    const other = budget({ id: 'platform/team-b', subjects: { namespaces: ['team-b'], serviceAccounts: [], apiKeys: [], routes: [] } });
    const onAccount = budget({ id: 'team-a/app', subjects: { namespaces: [], serviceAccounts: ['team-a/app'], apiKeys: [], routes: [] } });
    expect(applicableBudgets([onNamespace, other, onAccount], ANONYMOUS, route).map((b) => b.id)).toEqual(['platform/team-a']);
    expect(applicableBudgets([onNamespace, other, onAccount], { ...caller, namespace: 'team-b', id: 'sa:team-b/app' }, route).map((b) => b.id)).toEqual(['platform/team-b']);
  });

  it('holds what a request is priced at besides tokens (a pass-through request and its images), so concurrent ones cannot pass the limit', async () => {
    const imagesRoute = { ...route, targets: [{ ...route.targets[0], pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perRequestUsd: 0.001, perImageUsd: 0.04 } }] } as unknown as typeof route;
    const { admitter } = setup([budget({ amount: 0.1 })]);
    const images = (n: number) => ({ caller, route: imagesRoute, req, promptTokens: 0, maxOutputTokens: 0, units: { requests: 1, images: n, audioSeconds: 0, characters: 0 } });
    await admitter.admit(images(1));
    await admitter.admit(images(1));
    // 0.082 held; a third image would hold 0.041 more than the 0.1 allows.
    await expect(admitter.admit(images(1))).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    await expect(setup([budget({ amount: 0.1 })]).admitter.admit(images(4))).rejects.toMatchObject({ status: 429 });
  });

  it('holds each file the prompt names but does not carry at UNREAD_FILE_TOKENS, no more than the target window leaves of the prompt', async () => {
    const files = (n: number): PromptMedia => ({ files: n, images: 0, lowImages: 0, originalImages: 0, pdfTokens: 0, imageTokens: 0 });
    const windowed = { ...route, targets: route.targets.map((t) => ({ ...t, contextWindow: 1000 })) } as RouteConfig;
    // 100 tokens of prompt leave 900 of the window: (1,000 + 300) at $1000 a million. Before, the file added nothing: $0.40.
    await expect(setup([budget()]).admitter.admit({ ...ask, route: windowed, media: files(2) })).rejects.toThrow('it would hold 1.3000 USD');
    // Without a window: 1,000,000 tokens a file.
    await expect(setup([budget({ amount: 2000 })]).admitter.admit({ ...ask, media: files(1) })).resolves.toBeDefined();
    await expect(setup([budget()]).admitter.admit({ ...ask, media: files(1) })).rejects.toThrow('it would hold 1000.4000 USD');
    expect(worstCase(windowed, 100, 300, undefined, 1, files(3)).tokens).toBe(1300);
    expect(worstCase(route, 100, 300).tokens).toBe(400);
  });

  it('says exhausted only when the spend reached the limit, with when it resets', async () => {
    const { admitter } = setup([budget({ amount: 0.5 })]);
    const a = await admitter.admit(ask);
    a.settle({ usage: { inputTokens: 100, outputTokens: 300, cachedInputTokens: 0 }, costUsd: 0.5 });
    await expect(admitter.admit(ask)).rejects.toThrow(/^budget team-a\/b is exhausted: 0.5000 of 0.5 USD spent this period; it resets at 2026-11-16T00:00:00.000Z$/);
  });

  it('enforces only this pod share of what is left when the operator reports several replicas', async () => {
    const { admitter, ledger } = setup([budget()], false);
    ledger.update({ 'team-a/b': { periodStart: Date.parse('2026-11-15T00:00:00Z'), spent: 0.1, appliedThrough: {} } }, 2);
    await admitter.admit(ask); // 0.45 is this pod's half of 0.90
    const refused = admitter.admit(ask);
    await expect(refused).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    await expect(refused).rejects.toThrow(
      /would hold 0.4000 USD .* but only 0.0500 USD are available: 0.1000 of 1 USD spent this period, 0.9000 left, of which this gateway pod may use 0.4500 \(its 1\/2 share until the next usage sync\), less 0.4000 held for requests in flight; set max_tokens/,
    );
  });

  it('refuses with 503 budget_unavailable until the operator first answers, then enforces what it persisted', async () => {
    const { admitter, ledger } = setup([budget()], false);
    // Just started: the Budget is exhausted in status, but this pod has not heard so yet.
    const early = admitter.admit(ask);
    await expect(early).rejects.toMatchObject({ status: 503, code: 'budget_unavailable', type: 'service_unavailable_error' });
    await expect(early).rejects.toMatchObject({ headers: { 'retry-after': '1', 'x-tollgate-budget': 'team-a/b' } });
    ledger.update({ 'team-a/b': { periodStart: Date.parse('2026-11-15T00:00:00Z'), spent: 1, appliedThrough: {} } }, 3);
    await expect(admitter.admit(ask)).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    // Requests under no Budget were never held up.
    await expect(setup([], false).admitter.admit(ask)).resolves.toBeDefined();
  });

  it('downgrades instead of refusing when the budget says so, and ignores budgets of other subjects', async () => {
    const { admitter } = setup([budget({ amount: 0.1, action: { type: 'Downgrade', downgradeTo: 'cheap', cutStreams: false } })]);
    await expect(admitter.admit(ask)).rejects.toBeInstanceOf(Downgrade);
    const other = setup([budget({ amount: 0.1, subjects: { namespaces: ['team-b'], serviceAccounts: [], apiKeys: [], routes: [] } })]);
    await expect(other.admitter.admit(ask)).resolves.toBeDefined();
  });

  it('holds a worst case at the dearest token prices a target has: an audio model can answer in audio', async () => {
    // Text $1000 per million both ways, audio input $4000, audio output $8000: 100 prompt + 300 output tokens
    // hold 0.4 + 2.4 = $2.80 at most, so a $2.50 budget refuses what it would admit at text prices ($0.40).
    const voice = { ...route, targets: [{ ...route.targets[0], pricing: { inputPerMTok: 1000, outputPerMTok: 1000, cachedInputPerMTok: 0, audioInputPerMTok: 4000, audioOutputPerMTok: 8000 } }] } as RouteConfig;
    await expect(setup([budget({ amount: 2.5 })]).admitter.admit({ ...ask, route: voice })).rejects.toThrow(/it would hold 2\.8000 USD/);
    await expect(setup([budget({ amount: 2.5 })]).admitter.admit(ask)).resolves.toBeDefined();
  });

  it('holds a prompt estimate past the long-context threshold at the long-context prices', async () => {
    const long = { ...route, targets: [{ ...route.targets[0], pricing: { inputPerMTok: 1000, outputPerMTok: 1000, cachedInputPerMTok: 0, longContext: { aboveInputTokens: 150, inputPerMTok: 2000, outputPerMTok: 3000, cachedInputPerMTok: 0 } } }] } as RouteConfig;
    // 100 prompt tokens: under the threshold, $0.40 as at text prices; 200: 0.4 + 0.9 = $1.30.
    await expect(setup([budget({ amount: 1 })]).admitter.admit({ ...ask, route: long })).resolves.toBeDefined();
    await expect(setup([budget({ amount: 1 })]).admitter.admit({ ...ask, route: long, promptTokens: 200 })).rejects.toThrow(/it would hold 1\.3000 USD/);
  });

  it('counts tokens for token budgets', async () => {
    const { admitter } = setup([budget({ unit: 'Tokens', amount: 500 })]);
    const a = await admitter.admit(ask);
    await expect(admitter.admit(ask)).rejects.toMatchObject({ status: 429 });
    a.settle({ usage: { inputTokens: 100, outputTokens: 20, cachedInputTokens: 0 }, costUsd: 0 });
    await expect(admitter.admit(ask)).rejects.toThrow(/120 of 500 tokens/); // 120 + 400 > 500
    await admitter.admit({ ...ask, maxOutputTokens: 200 }); // 120 + 300 ≤ 500
  });

  it("follows each request's snapshot: a budget added or removed applies to the next request on the same route", async () => {
    const ledger = new BudgetLedger('pod-1', { standalone: true });
    const reporter = new UsageReporter(ledger, { logger: pino({ level: 'silent' }) });
    const admitter = new BudgetAdmitter(ledger, reporter);
    const none: BudgetConfig[] = [];
    const tight = [budget({ amount: 0.1 })];
    await admitter.admit({ ...ask, budgets: none });
    await expect(admitter.admit({ ...ask, budgets: tight })).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    await expect(admitter.admit({ ...ask, budgets: tight, caller: { kind: 'serviceaccount', namespace: 'team-b', name: 'app', id: 'sa:team-b/app' } })).resolves.toBeDefined();
    // A request still pinned to the snapshot before the budget came is not held to it.
    await expect(admitter.admit({ ...ask, budgets: none })).resolves.toBeDefined();
  });

  it('holds each budget its unit of the worst case, releases the earlier holds when a later budget refuses, and guards streams only for a budget that cuts them', async () => {
    const now = Date.parse('2026-11-15T12:00:00Z');
    const usd = budget({ id: 'team-a/usd' });
    const tok = budget({ id: 'team-a/tok', unit: 'Tokens', amount: 1000 });
    const cutting = budget({ id: 'team-a/cut', unit: 'Tokens', amount: 2000, action: { type: 'Reject', cutStreams: true } });
    const tight = budget({ id: 'team-a/tight', amount: 0.3 });
    const left = (ledger: BudgetLedger, b: BudgetConfig): number => ledger.available(b, now).available;

    const plain = setup([usd, tok]);
    const a = await plain.admitter.admit(ask);
    expect(a.overBudget).toBeUndefined();
    expect(a.headers).toEqual({});
    expect([left(plain.ledger, usd), left(plain.ledger, tok)]).toEqual([0.6, 600]);
    a.settle({ usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0 }, costUsd: 0.15 });
    a.settle({ usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 0 }, costUsd: 0.15 });
    expect([left(plain.ledger, usd), left(plain.ledger, tok)]).toEqual([0.85, 850]);

    // The third budget refuses: the first two holds are given back, whatever their unit.
    const refusing = setup([usd, tok, tight]);
    await expect(refusing.admitter.admit(ask)).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    expect([left(refusing.ledger, usd), left(refusing.ledger, tok), left(refusing.ledger, tight)]).toEqual([1, 1000, 0.3]);

    const cut = setup([usd, cutting]);
    const c = await cut.admitter.admit(ask);
    const tokens = (outputTokens: number) => ({ usage: { inputTokens: 100, outputTokens, cachedInputTokens: 0 }, costUsd: 0 });
    expect(c.overBudget?.(tokens(1900))).toBeUndefined();
    expect(c.overBudget?.(tokens(1901))).toBe('budget team-a/cut was exhausted during this stream (limit 2000 tokens)');
    c.settle(tokens(10));
    expect([left(cut.ledger, usd), left(cut.ledger, cutting)]).toEqual([1, 1890]);
  });
});
