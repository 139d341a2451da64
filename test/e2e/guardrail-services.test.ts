import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { type ServiceProcess, startService } from '../guardrail-services/service-process.js';

// Issue 17: webhook and moderation guardrails through the gateway, against services running as
// their own processes (a webhook guard implementing the documented contract, and an emulator of
// the OpenAI moderation API), driven by the official openai and @anthropic-ai/sdk clients.

let up: OpenAiUpstream;
let hook: ServiceProcess;
/** A second webhook process, stopped mid-test to be the webhook that is down. */
let doomed: ServiceProcess;
let moderation: ServiceProcess;
let gateway: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;

const route = (name: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  access: { anonymous: true }
  targets: [{ providerRef: { name: hosted }, model: gpt }]
---
`;

const webhookPolicy = (name: string, rules: string) => `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: ${name} }
spec:
  subjects: { routes: [{ name: ${name} }] }
  rules:
${rules}---
`;

const hookRule = (name: string, phase: string, action: string, url: string, timeout: string, failureMode: string) =>
  `    - { name: ${name}, phase: ${phase}, action: ${action}, detector: { webhook: { url: '${url}', timeout: ${timeout}, failureMode: ${failureMode} } } }\n`;

function manifests(): string {
  const names = ['hooked', 'masked', 'hang-closed', 'hang-open', 'down-closed', 'down-open', 'moderated'];
  return (
    `${openAiProvider('hosted', up.baseUrl)}---\n` +
    `${openAiProvider('moderator', `${moderation.url}/v1`)}---\n` +
    names.map(route).join('') +
    webhookPolicy('hooked', hookRule('classify', 'Request', 'Block', `${hook.url}/check`, '10s', 'Closed') + hookRule('classify-out', 'Response', 'Block', `${hook.url}/check`, '10s', 'Closed')) +
    webhookPolicy('masked', hookRule('redact', 'Request', 'Mask', `${hook.url}/mask`, '10s', 'Closed')) +
    webhookPolicy('hang-closed', hookRule('slow', 'Request', 'Block', `${hook.url}/hang`, '300ms', 'Closed')) +
    webhookPolicy('hang-open', hookRule('slow', 'Request', 'Block', `${hook.url}/hang`, '300ms', 'Open')) +
    webhookPolicy('down-closed', hookRule('gone', 'Request', 'Block', `${doomed.url}/check`, '10s', 'Closed')) +
    webhookPolicy('down-open', hookRule('gone', 'Request', 'Block', `${doomed.url}/check`, '10s', 'Open')) +
    webhookPolicy(
      'moderated',
      '    - { name: harm, phase: Request, action: Block, detector: { moderation: { providerRef: { name: moderator }, timeout: 10s } } }\n' +
        '    - { name: harm-out, phase: Response, action: Block, detector: { moderation: { providerRef: { name: moderator }, categories: [self-harm/intent], timeout: 10s } } }\n',
    )
  );
}

beforeAll(async () => {
  [up, hook, doomed, moderation] = await Promise.all([
    startOpenAiUpstream(),
    startService('webhook-guard', { FLAG_PHRASES: 'secret project,falcon' }),
    startService('webhook-guard'),
    startService('moderation-emulator', { MODERATION_API_KEY: 'sk-moderator' }),
  ]);
  gateway = await startTestGateway({ 'all.yaml': manifests() });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await Promise.all([up?.close(), hook?.stop(), doomed?.stop(), moderation?.stop()]);
});

const chat = (model: string, content: string) => openai.chat.completions.create({ model, messages: [{ role: 'user', content }] });
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
async function streamed(model: string): Promise<{ text: string; error: unknown }> {
  const stream = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
  let text = '';
  try {
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    return { text, error: undefined };
  } catch (error) {
    return { text, error };
  }
}

interface Received {
  checks: Record<string, unknown>[];
  problems: string[];
}

describe('webhook guardrail service (its own process)', () => {
  it('blocks what the service flags: 400 guardrail_blocked naming policy and rule; the service got the documented contract', async () => {
    up.script({ kind: 'ok', content: 'fine' });
    const before = up.requests.length;
    const err = await failure(chat('hooked', 'what is the secret project about?'));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err?.code).toBe('guardrail_blocked');
    expect(err?.message).toContain('the request was blocked by guardrail policy default/hooked, rule classify: the check service flagged it');
    expect(err?.message).not.toContain('secret project');
    expect(up.requests.length).toBe(before);
    const got = await hook.received<Received>();
    expect(got.checks.at(-1)).toEqual({
      apiVersion: 'tollgate.dev/v1alpha1',
      kind: 'GuardrailCheck',
      policy: 'default/hooked',
      rule: 'classify',
      phase: 'Request',
      requestId: expect.any(String) as unknown,
      route: 'default/hooked',
      model: 'hooked',
      caller: 'anonymous',
      texts: [{ role: 'user', text: 'what is the secret project about?' }],
    });
    expect((await chat('hooked', 'hello')).choices[0]?.message.content).toBe('fine');
  });

  it('answers an Anthropic client in its own error shape', async () => {
    const err = (await anthropic.messages.create({ model: 'hooked', max_tokens: 10, messages: [{ role: 'user', content: 'project Falcon status' }] }).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(JSON.stringify(err.error)).toContain('rule classify');
    expect(err.headers?.get('x-tollgate-guardrail')).toBe('default/hooked');
  });

  it('checks the answer too: a flagged answer is refused, a flagged stream ends with an error event', async () => {
    up.script({ kind: 'ok', content: 'the secret project ships friday' });
    const err = await failure(chat('hooked', 'status?'));
    expect(err?.status).toBe(400);
    expect(err?.message).toContain('the response was blocked by guardrail policy default/hooked, rule classify-out');
    up.script({ kind: 'stream', chunks: 5, intervalMs: 0, content: 'falcon' });
    const s = await streamed('hooked');
    expect(s.error).toBeInstanceOf(OpenAI.APIError);
    expect((s.error as Error).message).toContain('rule classify-out');
    const last = (await hook.received<Received>()).checks.at(-1);
    expect(last).toMatchObject({ phase: 'Response', rule: 'classify-out', texts: [{ role: 'assistant', text: 'falcon falcon falcon falcon falcon' }] });
  });

  it('masks with the texts the service returns: the upstream gets them', async () => {
    up.script({ kind: 'ok', content: 'ok' });
    await chat('masked', 'notes on the secret project and falcon');
    expect((up.requests.at(-1)?.body as { messages: { content: string }[] }).messages[0]?.content).toBe('notes on the [FLAGGED] and [FLAGGED]');
  });

  it('a hanging service: failureMode Closed refuses with 503 guardrail_unavailable, Open lets the request through', async () => {
    up.script({ kind: 'ok', content: 'answered' });
    const closed = await failure(chat('hang-closed', 'hello'));
    expect(closed?.status).toBe(503);
    expect(closed?.code).toBe('guardrail_unavailable');
    expect(closed?.message).toContain('guardrail policy default/hang-closed, rule slow could not be evaluated (no answer within 300 ms) and fails closed');
    const anthropicClosed = (await anthropic.messages.create({ model: 'hang-closed', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<
      typeof Anthropic.APIError
    >;
    expect(anthropicClosed.status).toBe(503);
    expect((await chat('hang-open', 'hello')).choices[0]?.message.content).toBe('answered');
  });

  it('a service that is down: Closed refuses with 503 guardrail_unavailable, Open lets the request through', async () => {
    up.script({ kind: 'ok', content: 'answered' });
    // Up first: the policy really reaches it.
    expect((await chat('down-closed', 'hello')).choices[0]?.message.content).toBe('answered');
    expect((await doomed.received<Received>()).checks).toHaveLength(1);
    await doomed.stop();
    const closed = await failure(chat('down-closed', 'hello'));
    expect(closed?.status).toBe(503);
    expect(closed?.code).toBe('guardrail_unavailable');
    expect(closed?.message).toMatch(/rule gone could not be evaluated \(unreachable \(ECONNREFUSED\)\)/);
    expect((await chat('down-open', 'hello')).choices[0]?.message.content).toBe('answered');
  });
});

describe('moderation emulator (its own process, OpenAI moderation wire format)', () => {
  it('is accepted by the official openai client as the moderation API', async () => {
    const direct = new OpenAI({ baseURL: `${moderation.url}/v1`, apiKey: 'sk-moderator', maxRetries: 0 });
    const res = await direct.moderations.create({ model: 'omni-moderation-latest', input: ['hello there', 'I will attack them'] });
    expect(res.results.map((r) => r.flagged)).toEqual([false, true]);
    expect(res.results[1]?.categories.violence).toBe(true);
    expect(Object.keys(res.results[0]?.category_scores ?? {})).toHaveLength(13);
    const parts = await direct.moderations.create({ input: [{ type: 'text', text: 'I want to hurt myself' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] });
    expect(parts.results[0]?.categories['self-harm/intent']).toBe(true);
    expect(parts.results[0]?.category_applied_input_types.violence).toEqual(['text', 'image']);
    const wrong = await new OpenAI({ baseURL: `${moderation.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).moderations.create({ input: 'x' }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('blocks a flagged prompt through the gateway, naming the categories, never the text', async () => {
    up.script({ kind: 'ok', content: 'calm answer' });
    const before = up.requests.length;
    const err = await failure(chat('moderated', 'I will attack them tomorrow'));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err?.message).toContain('the request was blocked by guardrail policy default/moderated, rule harm: moderation flagged it (violence)');
    expect(err?.message).not.toContain('attack');
    expect(up.requests.length).toBe(before);
    const anthropicErr = await anthropic.messages.create({ model: 'moderated', max_tokens: 5, messages: [{ role: 'user', content: 'you idiot' }] }).catch((e: unknown) => e);
    expect(anthropicErr).toBeInstanceOf(Anthropic.BadRequestError);
    expect(JSON.stringify((anthropicErr as InstanceType<typeof Anthropic.APIError>).error)).toContain('moderation flagged it (harassment)');
    expect((await chat('moderated', 'a calm question')).choices[0]?.message.content).toBe('calm answer');
    const got = await moderation.received<{ requests: unknown[]; problems: string[] }>();
    expect(got.requests).toContainEqual({ model: 'omni-moderation-latest', input: ['I will attack them tomorrow'] });
  });

  it('checks answers and streams against the categories the rule names', async () => {
    up.script({ kind: 'ok', content: 'I want to hurt myself' });
    const err = await failure(chat('moderated', 'how are you?'));
    expect(err?.message).toContain('the response was blocked by guardrail policy default/moderated, rule harm-out: moderation flagged it (self-harm/intent)');
    // Violence is flagged by the emulator but not among the categories of harm-out: the answer passes.
    up.script({ kind: 'ok', content: 'they will attack them' });
    expect((await chat('moderated', 'news?')).choices[0]?.message.content).toBe('they will attack them');
    up.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'hurt myself' });
    const s = await streamed('moderated');
    expect(s.error).toBeInstanceOf(OpenAI.APIError);
    expect((s.error as Error).message).toContain('rule harm-out');
  });

  it('neither service saw a request that breaks its contract', async () => {
    expect((await hook.received<Received>()).problems).toEqual([]);
    expect((await moderation.received<{ problems: string[] }>()).problems).toEqual(['Incorrect API key provided.']);
  });
});
