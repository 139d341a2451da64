import { describe, expect, it } from 'vitest';
import { BudgetSchema } from './budget.js';
import { ModelRouteSchema } from './model-route.js';
import { MAX_PRICE_USD, ProviderSchema } from './provider.js';

const meta = { name: 'x', namespace: 'default' };
const provider = (spec: unknown) => ProviderSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'Provider', metadata: meta, spec });
const route = (spec: unknown) => ModelRouteSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'ModelRoute', metadata: meta, spec });
const budget = (spec: unknown) => BudgetSchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'Budget', metadata: meta, spec });

function messages(result: { success: boolean; error?: { issues: { message: string }[] } }): string[] {
  return result.success ? [] : (result.error?.issues.map((i) => i.message) ?? []);
}

const target = { providerRef: { name: 'p' }, model: 'm' };

describe('Provider schema', () => {
  it('accepts a hosted provider and applies defaults', () => {
    const r = provider({ type: 'openai', credentials: { secretRef: { name: 's', key: 'k' } }, models: [{ name: 'gpt-4o', pricing: { input: 2.5, output: 10 } }] });
    expect(r.success).toBe(true);
    expect(r.data?.spec.models?.[0]?.pricing?.input).toBe(2.5);
  });

  it('refuses a price past MAX_PRICE_USD, in every price field, and takes one at it', () => {
    // A tenant's price of 1.7e308 made a request's cost Infinity (null in JSON) and stopped every
    // usage answer of the installation.
    for (const pricing of [{ output: 1.7e308 }, { perRequest: 1e6 }, { longContext: { above: 1000, input: 1, output: 1e9 } }, { training: MAX_PRICE_USD + 1 }]) {
      const r = provider({ type: 'mock', models: [{ name: 'm', pricing }] });
      expect(r.success, JSON.stringify(pricing)).toBe(false);
      expect(messages(r).join(' ')).toMatch(/100000|too big|<=/i);
    }
    expect(provider({ type: 'mock', models: [{ name: 'm', pricing: { input: MAX_PRICE_USD, output: 600 } }] }).success).toBe(true);
  });

  it.each([
    [{ type: 'vllm', url: 'http://a/v1', serviceRef: { name: 's', port: 8000 } }, 'set at most one of url and serviceRef'],
    [{ type: 'openai-compatible' }, 'openai-compatible and vllm providers need url or serviceRef'],
    [{ type: 'mock', url: 'http://a' }, 'a mock provider takes no url, serviceRef or credentials'],
    [{ type: 'openai', mock: {} }, 'mock is only allowed with type mock'],
    [{ type: 'openai', allowedRoutes: { namespaces: { from: 'Selector' } } }, 'selector is required when from is Selector'],
  ])('refuses %j', (spec, message) => {
    expect(messages(provider(spec))).toContain(message);
  });

  it('refuses timers node cannot set (past 24h) and call intervals that would make every pod hammer a URL', () => {
    const hosted = { type: 'openai', credentials: { secretRef: { name: 's', key: 'k' } } };
    expect(messages(provider({ ...hosted, healthCheck: { path: '/models', interval: '600h' } }))).toContain('must be at most 24h');
    expect(messages(provider({ ...hosted, healthCheck: { path: '/models', interval: '10ms' } }))).toContain('must be at least 50ms');
    expect(messages(provider({ type: 'vllm', url: 'http://127.0.0.1:9/v1', vllm: { scrape: { interval: '0ms' } } }))).toContain('must be at least 50ms');
    expect(messages(route({ model: 'm', targets: [target], timeouts: { total: '600h' } }))).toContain('must be at most 24h');
    expect(route({ model: 'm', targets: [target], timeouts: { total: '24h', streamIdle: '1h' } }).success).toBe(true);
  });

  it('refuses unknown fields, bad enums and bad durations with the field path', () => {
    const r = provider({ type: 'openai', urll: 'x' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['spec']);
    expect(r.error?.issues[0]?.message).toMatch(/urll/);
    expect(provider({ type: 'nope' }).success).toBe(false);
    const d = provider({ type: 'openai', timeouts: { connect: '5 seconds' } });
    expect(d.error?.issues[0]?.path).toEqual(['spec', 'timeouts', 'connect']);
  });

  it('refuses a model listed twice (the first entry\'s price would win in silence), at spec.models', () => {
    const r = provider({ type: 'mock', models: [{ name: 'm', pricing: { input: 0.15, output: 0.6 } }, { name: 'n' }, { name: 'm', pricing: { input: 2.5, output: 10 } }] });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['spec.models', 'model names must be unique (m appears twice)']]);
  });
});

describe('ModelRoute schema', () => {
  it('defaults strategy, fallbackOn and priorities', () => {
    const r = route({ model: 'gpt-4o', targets: [target] });
    expect(r.data?.spec.strategy).toBe('failover');
    expect(r.data?.spec.fallbackOn).toEqual(['RateLimited', 'ServerError', 'Timeout', 'ConnectionError']);
    expect(r.data?.spec.targets?.[0]?.priority).toBe(0);
  });

  it.each([
    [{ model: 'm', targets: [{ ...target, weight: 1 }] }, 'target weights are only allowed with strategy weighted'],
    [{ model: 'm', strategy: 'weighted', targets: [target] }, 'strategy weighted needs at least one target with a weight above 0'],
    [{ model: 'm', targets: [target], timeouts: { attempt: '2m', total: '1m' } }, 'attempt must not exceed total'],
    [{ model: 'm', targets: [target], rateLimits: [{ per: 'Caller' }] }, 'set requestsPerMinute or tokensPerMinute'],
    [
      { model: 'm', targets: [target], retry: { retryOn: ['ServerError', 'ContextLengthExceeded'] } },
      'retryOn must not list ContextLengthExceeded: the same request is refused the same way on every retry; list it in fallbackOn to try a target with a larger context window',
    ],
  ])('refuses %j', (spec, message) => {
    expect(messages(route(spec))).toContain(message);
  });

  it('refuses a route without targets or with whitespace in the model', () => {
    expect(route({ model: 'm', targets: [] }).success).toBe(false);
    expect(route({ model: 'a b', targets: [target] }).success).toBe(false);
  });

  // The target's model goes into URLs and the x-tollgate-model answer header: a name node cannot
  // write as a header failed every served answer with a 500 after the upstream had billed it.
  it.each(['gpt 4o', 'modèle', 'モデル', 'a\tb'])('refuses the target model %j (not visible ASCII)', (model) => {
    const r = route({ model: 'm', targets: [{ ...target, model }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('visible ASCII');
  });

  it('accepts ARNs, paths and tags as target models', () => {
    for (const model of ['arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc', 'meta-llama/Llama-3.1-8B-Instruct', 'qwen2.5:7b', 'ft:gpt-4o-mini:org::id']) {
      expect(route({ model: 'm', targets: [{ ...target, model }] }).success).toBe(true);
    }
  });
});

describe('Budget schema', () => {
  const base = { limit: { amount: 100 }, subjects: { namespaces: ['team-a'] } };
  it('defaults unit, period and thresholds', () => {
    const r = budget(base);
    expect(r.data?.spec).toMatchObject({ limit: { amount: 100, unit: 'USD' }, period: 'Month', thresholds: [50, 80, 100] });
  });

  it.each([
    [{ ...base, limit: { amount: 0 } }, 'limit.amount must be greater than 0'],
    [{ ...base, subjects: {} }, 'subjects must name at least one namespace, serviceAccount, apiKey or route'],
    [{ ...base, action: { type: 'Downgrade' } }, 'downgradeTo is required with action Downgrade'],
    [{ ...base, period: 'Rolling' }, 'window is required with period Rolling and only allowed with it'],
    [{ ...base, window: '1h' }, 'window is required with period Rolling and only allowed with it'],
  ])('refuses %j', (spec, message) => {
    expect(messages(budget(spec))).toContain(message);
  });
});
