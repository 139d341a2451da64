import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governanceFromEnv } from '../../dataplane/main/governance-from-env.js';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { RedisTestServer } from './redis-server.js';

// With Redis gone, cache lookups are misses, stores are skipped and token corrections are lost:
// each must show on /metrics (before, only the rate limiter's open/closed admissions did, and the
// log said every failure of every request).

const files = (upstream: string) => ({
  'providers.yaml': openAiProvider('up', upstream),
  'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  access: { anonymous: true }
  cache: { enabled: true, ttl: 5m }
  rateLimits: [{ per: Route, tokensPerMinute: 1000000 }]
  targets: [{ providerRef: { name: up }, model: m }]
`,
});

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('backend failures on /metrics (real redis-server, stopped)', () => {
  let redis: RedisTestServer;
  let upstream: OpenAiUpstream;
  let gateway: TestGateway;
  let governance: Awaited<ReturnType<typeof governanceFromEnv>>;
  const warnings: { msg: string; op?: string; suppressed?: number }[] = [];

  beforeAll(async () => {
    redis = await RedisTestServer.start();
    upstream = await startOpenAiUpstream();
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as { msg: string }) });
    governance = await governanceFromEnv({ TOLLGATE_REDIS_URL: redis.url, TOLLGATE_REDIS_TIMEOUT_MS: '500' }, logger);
    gateway = await startTestGateway(files(upstream.baseUrl), { auth: new Authenticator({}), admin: true, governance });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await redis?.destroy();
  });

  const ask = (content: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content }] }),
    });
  const scrape = async () => (await fetch(`${gateway.adminUrl ?? ''}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } })).text();

  it('counts cache lookups and stores that failed, and token corrections lost, with one warning per operation', async () => {
    // Admitted while Redis is up; Redis stops while the upstream answers, so the correction to the
    // real usage (and the store) finds it gone.
    upstream.script({ kind: 'ok', usage: { prompt: 1000, completion: 500 }, delayMs: 600 });
    const first = ask('first');
    await new Promise((r) => setTimeout(r, 200));
    await redis.stop();
    expect((await first).status).toBe(200);
    upstream.script({ kind: 'ok' });
    for (let i = 0; i < 3; i++) expect((await ask(`later ${i}`)).status).toBe(200);

    const text = await scrape();
    expect(metric(text, 'tollgate_cache_backend_errors_total{op="get"}')).toBe(3);
    expect(metric(text, 'tollgate_cache_backend_errors_total{op="set"}')).toBe(4);
    expect(metric(text, 'tollgate_rate_limit_corrections_failed_total')).toBe(1);
    expect(metric(text, 'tollgate_rate_limit_backend_errors_total{mode="open"}')).toBe(3);
    // One line per operation for the outage so far, not one per request.
    const said = warnings.filter((w) => w.msg === 'response cache failed' || w.msg === 'rate-limit backend failed').map((w) => `${w.msg}/${w.op ?? ''}`);
    expect(said.sort()).toEqual(['rate-limit backend failed/adjust', 'rate-limit backend failed/take', 'response cache failed/get', 'response cache failed/set']);
  });
});
