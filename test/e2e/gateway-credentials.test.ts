import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { providerManifest, routeManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// An upstream that refuses the gateway's own key is the gateway's failure, not the caller's: Gemini
// answers a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), which used to be relayed
// to the caller as its own 400, never failed over and counted healthy.

const RETRY = '{ attempts: 3, backoff: { initial: 1ms, max: 5ms } }';
const WRONG_KEY = 'gemini-wrong-key-0123';

let gemini: Emulator;
let gateway: TestGateway;

beforeAll(async () => {
  gemini = await startGeminiEmulator('gemini-test-key');
  const key = (name: string, apiKey: string): string =>
    providerManifest(name, 'gemini', gemini.url, `{ secretRef: { name: ${name}, key: apiKey } }`) + secretManifest(name, { apiKey });
  gateway = await startTestGateway({
    'providers.yaml': key('wrong', WRONG_KEY) + key('right', 'gemini-test-key'),
    'routes.yaml':
      routeManifest('with-spare', [['wrong', 'gemini-2.0-flash'], ['right', 'gemini-2.0-flash']], RETRY) +
      routeManifest('alone', [['wrong', 'gemini-2.0-flash']], RETRY) +
      routeManifest('busy-then-wrong', [['right', 'gemini-2.0-flash'], ['wrong', 'gemini-2.0-flash']]),
  });
});

afterAll(async () => {
  await gateway?.close();
  await gemini?.close();
});

async function chat(model: string): Promise<{ status: number; body: { error?: { message: string; code: string }; choices?: { message: { content: string } }[] }; attempts: string | null }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: (await res.json()) as never, attempts: res.headers.get('x-tollgate-attempts') };
}

describe("Gemini refusing the gateway's key (400 API_KEY_INVALID)", () => {
  it('is not retried on that target and fails over to the next', async () => {
    gemini.script({ kind: 'text', text: 'from the right key' });
    const before = gemini.requests.length;
    const res = await chat('with-spare');
    expect(res.status).toBe(200);
    expect(res.body.choices?.[0]?.message.content).toBe('from the right key');
    // One refused request with the wrong key, one served with the right one.
    expect(gemini.requests.length - before).toBe(2);
    expect(res.attempts).toBe('2');
  });

  it('when nothing is left: a 502 naming the credential problem, never the key, not the caller’s 400', async () => {
    const before = gemini.requests.length;
    const res = await chat('alone');
    expect(res.status).toBe(502);
    expect(gemini.requests.length - before).toBe(1);
    expect(res.body.error?.code).toBe('upstream_credentials_refused');
    expect(res.body.error?.message).toContain('API_KEY_INVALID: API key not valid');
    expect(res.body.error?.message).toContain("refused the gateway's credentials");
    expect(res.body.error?.message).not.toContain(WRONG_KEY);
  });

  it("the official SDKs, which retry every 502 unless told not to, are told not to: the refused key is not sent again", async () => {
    // Before, the 502 carried no x-should-retry: each SDK call sent the refused key upstream three times.
    const before = gemini.requests.length;
    const openai = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 2 });
    const err = (await openai.chat.completions.create({ model: 'alone', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.code).toBe('upstream_credentials_refused');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: gateway.url, maxRetries: 2 });
    const refused = await anthropic.messages.create({ model: 'alone', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.InternalServerError);
    // One SDK request each, one upstream request each.
    expect(gemini.requests.length - before).toBe(2);
  });

  it('a 502 whose route also met a passing failure (a 429 on another target) may still be retried', async () => {
    gemini.script({ kind: 'rate-limit' }, { kind: 'text' });
    const client = new OpenAI({ apiKey: 'k', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const err = (await client.chat.completions.create({ model: 'busy-then-wrong', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    gemini.script();
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_credentials_refused');
    expect(err.headers?.get('x-should-retry')).toBeNull();
  });
});
