import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// OpenAI answers an account out of credit with 429 insufficient_quota: no wait makes it pass. The
// gateway does not retry it on the same target, fails over to the next, and when nothing is left
// tells the client (whose SDK retries every 429 unless told not to) not to retry.

const RETRY = '{ attempts: 3, backoff: { initial: 1ms, max: 5ms } }';
const QUOTA = {
  kind: 'error',
  status: 429,
  body: { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } },
} as const;

let broke: OpenAiUpstream;
let spare: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  [broke, spare] = await Promise.all([startOpenAiUpstream(), startOpenAiUpstream()]);
  gateway = await startTestGateway({
    'providers.yaml': `${openAiProvider('broke', broke.baseUrl)}---\n${openAiProvider('spare', spare.baseUrl)}`,
    'routes.yaml': routeManifest('with-spare', [['broke', 'm'], ['spare', 'm']], RETRY) + routeManifest('alone', [['broke', 'm']], RETRY),
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([broke?.close(), spare?.close()]);
});

describe('insufficient_quota', () => {
  it('is not retried on the target, and fails over to the next', async () => {
    broke.script(QUOTA);
    spare.script({ kind: 'ok', content: 'from the spare' });
    const before = broke.requests.length;
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'with-spare', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]?.message.content).toBe('from the spare');
    expect(broke.requests.length - before).toBe(1);
  });

  it('when nothing is left: 429 insufficient_quota, x-should-retry: false, no retry-after; the SDK does not retry', async () => {
    broke.script(QUOTA);
    const before = broke.requests.length;
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 2 });
    const err = (await client.chat.completions.create({ model: 'alone', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.code).toBe('insufficient_quota');
    expect(err.type).toBe('insufficient_quota');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(err.headers?.get('retry-after')).toBeNull();
    // One client request, one upstream request: neither the SDK nor the gateway retried.
    expect(broke.requests.length - before).toBe(1);
  });

  it('a rate limit is still retried and answered with retry-after', async () => {
    broke.script({ kind: 'error', status: 429, headers: { 'retry-after': '0' } });
    const before = broke.requests.length;
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const err = (await client.chat.completions.create({ model: 'alone', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.headers?.get('retry-after')).not.toBeNull();
    expect(err.headers?.get('x-should-retry')).toBeNull();
    expect(broke.requests.length - before).toBe(3);
  });
});
