import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { governanceFromEnv } from '../../dataplane/main/governance-from-env.js';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { RedisTestServer } from '../redis/redis-server.js';
import { openAiProvider, RESIDENCY_IDENTITIES, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// The cache answers only what the gateway would have answered: per rule, per the targets a caller
// may use, per every field sent upstream, and never for a credential that did not verify. Run on
// the in-memory cache and on a shared Redis cache (a real redis-server).

const manifests = (us: string, eu: string) => ({
  'providers.yaml':
    openAiProvider('us', us) +
    '---\n' +
    openAiProvider('eu', eu).replace('metadata: { name: eu }', 'metadata: { name: eu, labels: { approved: "true" } }'),
  'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: tiered }
spec:
  model: tiered
  access: { anonymous: true }
  cache: { enabled: true, ttl: 5m }
  rules:
    - name: premium
      when: { headers: [{ name: x-tier, value: premium }] }
      targets: [{ providerRef: { name: eu }, model: m }]
    - name: general
      targets: [{ providerRef: { name: us }, model: m }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: shared }
spec:
  model: shared
  access: { anonymous: true }
  cache: { enabled: true, ttl: 5m, shareAcrossCallers: true }
  targets:
    - { providerRef: { name: us }, model: m, priority: 0 }
    - { providerRef: { name: eu }, model: m, priority: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: private }
spec:
  model: private
  cache: { enabled: true, ttl: 5m, shareAcrossCallers: true }
  targets: [{ providerRef: { name: us }, model: m }]
`,
  'identities.yaml': RESIDENCY_IDENTITIES,
});

describe.each(['memory', 'redis'] as const)('cache identity (%s cache)', (backend) => {
  let us: OpenAiUpstream;
  let eu: OpenAiUpstream;
  let redis: RedisTestServer | undefined;
  let gateway: TestGateway;
  let governance: Awaited<ReturnType<typeof governanceFromEnv>> | undefined;

  beforeAll(async () => {
    us = await startOpenAiUpstream();
    eu = await startOpenAiUpstream();
    us.script({ kind: 'ok', content: 'made in the US' });
    eu.script({ kind: 'ok', content: 'made in the EU' });
    const logger = pino({ level: 'silent' });
    if (backend === 'redis') redis = await RedisTestServer.start();
    // A generous command timeout: a redis-server starved by a loaded machine must not turn a store into a skipped one.
    governance = redis === undefined ? undefined : await governanceFromEnv({ TOLLGATE_REDIS_URL: redis.url, TOLLGATE_REDIS_TIMEOUT_MS: '5000' }, logger);
    gateway = await startTestGateway(manifests(us.baseUrl, eu.baseUrl), { auth: new Authenticator({}), ...(governance === undefined ? {} : { governance }) });
  });

  // Every miss and hit above is the cache's answer, not a Redis failure served as a miss.
  afterEach(() => expect(governance?.cache.stats.errors ?? 0).toBe(0));

  afterAll(async () => {
    await gateway?.close();
    await us?.close();
    await eu?.close();
    await redis?.destroy();
  });

  const ask = async (model: string, body: string, headers: Record<string, string> = {}) => {
    const stores = governance?.cache.stats.stores ?? 0;
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: `{"model":"${model}","messages":[{"role":"user","content":"${body}"}]}`,
    });
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    // A Redis store completes after the answer is sent: the next identical request may be asked
    // only once it has, or it races the store (a miss on a busy machine).
    if (governance !== undefined && res.status === 200 && res.headers.get('x-tollgate-cache') === 'miss') {
      await expect.poll(() => governance?.cache.stats.stores ?? 0, { timeout: 5_000 }).toBeGreaterThan(stores);
    }
    return { status: res.status, cache: res.headers.get('x-tollgate-cache'), text: json.choices[0]?.message.content };
  };

  it('never serves the answers of a Provider’s old upstream once it is re-pointed at another', async () => {
    expect(await ask('shared', 'repoint')).toMatchObject({ status: 200, cache: 'miss', text: 'made in the US' });
    expect(await ask('shared', 'repoint')).toMatchObject({ cache: 'hit', text: 'made in the US' });
    // Provider `us` now points at the EU upstream: the same request is a miss, answered by it.
    gateway.write('providers.yaml', manifests(eu.baseUrl, eu.baseUrl)['providers.yaml']);
    try {
      expect(await ask('shared', 'repoint')).toMatchObject({ status: 200, cache: 'miss', text: 'made in the EU' });
    } finally {
      gateway.write('providers.yaml', manifests(us.baseUrl, eu.baseUrl)['providers.yaml']);
    }
  });

  it('never serves one rule’s answer to a request another rule serves', async () => {
    expect(await ask('tiered', 'rules', { 'x-tier': 'premium' })).toEqual({ status: 200, cache: 'miss', text: 'made in the EU' });
    expect(await ask('tiered', 'rules')).toEqual({ status: 200, cache: 'miss', text: 'made in the US' });
    expect(await ask('tiered', 'rules', { 'x-tier': 'premium' })).toEqual({ status: 200, cache: 'hit', text: 'made in the EU' });
  });

  it('never serves a residency-restricted caller an answer a provider it may not use made (shared cache)', async () => {
    expect(await ask('shared', 'residency', { authorization: 'Bearer tg-marketing-key' })).toEqual({ status: 200, cache: 'miss', text: 'made in the US' });
    expect(await ask('shared', 'residency', { authorization: 'Bearer tg-finance-key' })).toEqual({ status: 200, cache: 'miss', text: 'made in the EU' });
    expect(await ask('shared', 'residency', { authorization: 'Bearer tg-finance-key' })).toEqual({ status: 200, cache: 'hit', text: 'made in the EU' });
  });

  it('keys a __proto__ member of the body, which is sent upstream', async () => {
    const plain = { model: 'tiered', messages: [{ role: 'user', content: 'proto' }] };
    const send = (text: string) => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    expect((await send(JSON.stringify(plain))).headers.get('x-tollgate-cache')).toBe('miss');
    const before = us.requests.length;
    const withProto = await send(`${JSON.stringify(plain).slice(0, -1)},"__proto__":{"temperature":2}}`);
    expect(withProto.headers.get('x-tollgate-cache')).toBe('miss');
    expect(us.requests.length).toBe(before + 1);
    expect(Object.hasOwn(us.requests.at(-1)?.body ?? {}, '__proto__')).toBe(true);
  });

  it('never answers a caller with an invalid key from the anonymous callers’ entries, nor stores for it', async () => {
    expect((await ask('tiered', 'anonymous')).cache).toBe('miss');
    expect((await ask('tiered', 'anonymous')).cache).toBe('hit');
    const before = us.requests.length;
    const invalid = await ask('tiered', 'anonymous', { authorization: 'Bearer sk-not-a-key' });
    expect(invalid).toEqual({ status: 200, cache: null, text: 'made in the US' });
    expect(us.requests.length).toBe(before + 1);
    expect((await ask('tiered', 'invalid only', { authorization: 'Bearer sk-not-a-key' })).cache).toBeNull();
    expect((await ask('tiered', 'invalid only')).cache).toBe('miss');
  });

  it('refuses an invalid key with 401 before the cache on a route closed to anonymous callers', async () => {
    const before = us.requests.length;
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-not-a-key' },
      body: JSON.stringify({ model: 'private', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-tollgate-cache')).toBeNull();
    expect(us.requests.length).toBe(before);
  });
});
