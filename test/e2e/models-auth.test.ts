import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// GET /v1/models answers a credential the way chat does: tools check a key by listing models, and an
// empty 200 to a revoked or mistyped key read as a valid one.

const route = (name: string, access = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
${access}  targets: [{ providerRef: { name: up }, model: m }]
`;
const OPEN = route('open', '  access: { anonymous: true }\n');
const KEYED = route('keyed');
const KEY = `apiVersion: v1
kind: Secret
metadata: { name: caller, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-good-key }
`;

let up: OpenAiUpstream;
let gateway: TestGateway;

const headers = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });
async function list(key: string | undefined, path = '/v1/models'): Promise<{ status: number; body: { data?: { id: string }[]; error?: { code: string; message: string } } }> {
  const res = await fetch(`${gateway.url}${path}`, { headers: headers(key) });
  return { status: res.status, body: (await res.json()) as { data?: { id: string }[]; error?: { code: string; message: string } } };
}
async function chat(key: string | undefined, model: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...headers(key), 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}
const ids = (body: { data?: { id: string }[] }): string[] => (body.data ?? []).map((m) => m.id).sort();

beforeAll(async () => {
  up = await startOpenAiUpstream();
  gateway = await startTestGateway({ 'providers.yaml': openAiProvider('up', up.baseUrl) + '---\n' + KEY, 'routes.yaml': `${OPEN}---\n${KEYED}` }, { auth: new Authenticator({}) });
});

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

describe('GET /v1/models and the caller\'s credential', () => {
  it('with a route open to anonymous callers: a valid key lists its routes, no key or a bogus one the anonymous routes (chat serves them those)', async () => {
    expect(ids((await list('tg-good-key')).body)).toEqual(['keyed', 'open']);
    expect(await list(undefined)).toMatchObject({ status: 200, body: { data: [{ id: 'open' }] } });
    expect(await list('tg-bogus-key')).toMatchObject({ status: 200, body: { data: [{ id: 'open' }] } });
    expect((await chat('tg-bogus-key', 'open')).status).toBe(200);
  });

  it('with no route open to anonymous callers: a bogus key, and no key, get chat\'s 401, for the list and for one model', async () => {
    gateway.write('routes.yaml', KEYED);
    const chatBogus = await chat('tg-bogus-key', 'keyed');
    expect(chatBogus.status).toBe(401);
    const bogus = await list('tg-bogus-key');
    expect(bogus).toEqual({ status: 401, body: chatBogus.body });
    expect(bogus.body.error).toMatchObject({ code: 'invalid_api_key', message: expect.stringContaining('invalid API key') });
    expect(await list('tg-bogus-key', '/v1/models/keyed')).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key' } } });
    const none = await list(undefined);
    expect(none).toEqual({ status: 401, body: (await chat(undefined, 'keyed')).body });
    expect(await list('tg-good-key')).toMatchObject({ status: 200, body: { data: [{ id: 'keyed' }] } });
  });
});
