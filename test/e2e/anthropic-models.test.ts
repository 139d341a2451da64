import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// The Anthropic SDK's client.models.list() and retrieve() ask GET /v1/models, as the OpenAI SDK
// does, but expect Anthropic's shapes: ModelInfo objects in pages (has_more, first_id, last_id) and
// Anthropic error JSON with a request-id. Before, they got OpenAI's list (no type, display_name or
// created_at) and OpenAI-shaped errors without request-id.

const route = (name: string, access = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
${access}  targets: [{ providerRef: { name: up }, model: m }]
---
`;
const NAMES = ['m-a', 'm-b', 'm-c', 'm-d', 'm-e'];
const KEY = `apiVersion: v1
kind: Secret
metadata: { name: caller, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-good-key }
`;

let up: OpenAiUpstream;
let gateway: TestGateway;
/** The SDK's requests, as method and URL. */
const sent: string[] = [];
const counting: typeof fetch = (input, init) => {
  sent.push(String(input));
  return fetch(input, init);
};
const anthropic = (apiKey = 'tg-good-key'): Anthropic => new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0, fetch: counting });

beforeAll(async () => {
  up = await startOpenAiUpstream();
  gateway = await startTestGateway(
    { 'providers.yaml': `${openAiProvider('up', up.baseUrl)}---\n${KEY}`, 'routes.yaml': NAMES.map((n) => route(n)).join('') },
    { auth: new Authenticator({}) },
  );
});

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

describe('GET /v1/models for the Anthropic SDK', () => {
  it('models.list(): ModelInfo objects (type, id, display_name, created_at), in pages the SDK walks', async () => {
    const first = await anthropic().models.list();
    expect(first.data.map((m) => m.id)).toEqual(NAMES);
    expect(first.has_more).toBe(false);
    for (const m of first.data) {
      expect(m).toMatchObject({ type: 'model', display_name: m.id, lifecycle: 'active' });
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
    }
    sent.length = 0;
    const walked: string[] = [];
    for await (const m of anthropic().models.list({ limit: 2 })) walked.push(m.id);
    expect(walked).toEqual(NAMES);
    // Pages of 2, 2 and 1: the SDK stops where has_more is false.
    expect(sent).toHaveLength(3);
    expect(sent[1]).toContain('after_id=m-b');

    const back = await anthropic().models.list({ limit: 2, before_id: 'm-d' });
    expect(back.data.map((m) => m.id)).toEqual(['m-b', 'm-c']);
    expect(back).toMatchObject({ has_more: true, first_id: 'm-b', last_id: 'm-c' });
  });

  it('models.retrieve(): one ModelInfo; an unknown model is an Anthropic not_found_error naming the request', async () => {
    expect(await anthropic().models.retrieve('m-c')).toMatchObject({ type: 'model', id: 'm-c', display_name: 'm-c' });
    const err = (await anthropic().models.retrieve('nope').catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(err.requestID).toMatch(/.+/);
    expect(err.error).toMatchObject({ request_id: err.requestID });
  });

  it('a bad limit and a refused key are Anthropic errors too', async () => {
    const bad = await anthropic().models.list({ limit: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: 'invalid_request_error' } });
    const refused = await anthropic('tg-bogus-key').models.list().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((refused as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('an endpoint the gateway does not serve (message batches) is an Anthropic not_found_error with request-id', async () => {
    const err = (await anthropic().messages.batches.list().catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: 'no such endpoint: GET /v1/messages/batches' } });
    expect(err.requestID).toMatch(/.+/);
    expect(err.error).toMatchObject({ request_id: err.requestID });
  });

  it('the OpenAI SDK still gets the OpenAI list and model objects', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-good-key', maxRetries: 0 });
    const list = await openai.models.list();
    expect(list.data.map((m) => m.id)).toEqual(NAMES);
    expect(list.data[0]).toMatchObject({ object: 'model', owned_by: 'tollgate' });
    expect(await openai.models.retrieve('m-a')).toMatchObject({ id: 'm-a', object: 'model' });
    const unknown = (await openai.get('/no/such/path').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.error).toMatchObject({ code: 'not_found', type: 'not_found_error' });
  });
});

describe('a wrong method on the Messages endpoints', () => {
  it('is a 405 in Anthropic error JSON with allow: POST and request-id, with or without anthropic-version', async () => {
    // Before, a client without anthropic-version (curl, a misconfigured proxy) got OpenAI's 404.
    for (const [method, path, headers] of [
      ['GET', '/v1/messages', { 'anthropic-version': '2023-06-01' }],
      ['GET', '/v1/messages', {}],
      ['PUT', '/v1/messages/count_tokens/', { 'x-api-key': 'tg-good-key' }],
      ['DELETE', '/v1/Messages', {}],
    ] as const) {
      const res = await fetch(`${gateway.url}${path}`, { method, headers });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(res.headers.get('request-id')).toMatch(/.+/);
      expect(await res.json()).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: `${method} is not allowed on ${path}: use POST` },
        request_id: res.headers.get('request-id'),
      });
    }
    // A HEAD is answered the same, without a body.
    const head = await fetch(`${gateway.url}/v1/messages`, { method: 'HEAD' });
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'POST']);
    // Other paths under /v1/messages stay what they were: an OpenAI 404 without anthropic-version.
    expect(await (await fetch(`${gateway.url}/v1/messages/batches`)).json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
