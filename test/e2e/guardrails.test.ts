import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestUsage } from '../../dataplane/config/request-usage.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Issue 17: GuardrailPolicy through the real gateway, driven by the official clients.
let up: OpenAiUpstream;
let gateway: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;
/** The usage record of every finished request (what the UsageReport counts). */
const records: RequestUsage[] = [];

const CARD = '4111 1111 1111 1111';

const manifests = (baseUrl: string): string => `${openAiProvider('hosted', baseUrl)}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: guarded }
spec:
  model: guarded-chat
  access: { anonymous: true }
  targets: [{ providerRef: { name: hosted }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: finance }
spec:
  subjects: { routes: [{ name: guarded }] }
  streaming: { holdBackChars: 32 }
  rules:
    - { name: watch-falcon, phase: Request, action: Monitor, detector: { denyList: { phrases: [project falcon] } } }
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-mail, phase: Request, action: Mask, detector: { builtin: [Email] } }
    - { name: mask-mail-out, phase: Response, action: Mask, detector: { builtin: [Email] } }
    - { name: no-keys-out, phase: Response, action: Block, detector: { builtin: [Credential] } }
`;

beforeAll(async () => {
  up = await startOpenAiUpstream();
  gateway = await startTestGateway({ 'all.yaml': manifests(up.baseUrl) }, { admin: true, onRequest: (r) => records.push(r) });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

const chat = (content: string) => openai.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content }] });

describe('GuardrailPolicy through the gateway', () => {
  it('refuses a prompt with a card number: 400 guardrail_blocked naming policy and rule, never the number; nothing goes upstream', async () => {
    up.script({ kind: 'ok' });
    const before = up.requests.length;
    const err = await chat(`charge ${CARD} today`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('guardrail_blocked');
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toContain('blocked by guardrail policy default/finance, rule no-cards: it contains PaymentCard');
    expect(e.message).not.toContain('4111');
    expect(e.headers?.get('x-tollgate-guardrail')).toBe('default/finance');
    expect(up.requests.length).toBe(before);
  });

  it('masks e-mail addresses before the upstream sees the prompt', async () => {
    up.script({ kind: 'ok', content: 'noted' });
    const res = await openai.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'mail ann@example.com the report' }] }).withResponse();
    expect(res.data.choices[0]?.message.content).toBe('noted');
    expect(res.response.headers.get('x-tollgate-guardrail')).toBe('default/finance');
    const sent = up.requests.at(-1)?.body as { messages: { content: string }[] };
    expect(sent.messages[0]?.content).toBe('mail [EMAIL] the report');
  });

  it('masks what the client receives in a complete answer, and blocks an answer with a credential', async () => {
    up.script({ kind: 'ok', content: 'write to bob@example.org' });
    expect((await chat('who?')).choices[0]?.message.content).toBe('write to [EMAIL]');
    up.script({ kind: 'ok', content: 'the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD' });
    const err = (await chat('key?').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(400);
    expect(err.message).toContain('the response was blocked by guardrail policy default/finance, rule no-keys-out: it contains Credential');
    expect(err.message).not.toContain('sk-proj');
  });

  it('masks e-mail addresses in a streamed answer before they are released', async () => {
    up.script({ kind: 'stream', chunks: 6, intervalMs: 0, content: 'ann@example.com' });
    const stream = await openai.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(Array.from({ length: 6 }, () => '[EMAIL]').join(' '));
  });

  it('answers an Anthropic client in its own error shape', async () => {
    const err = await anthropic.messages.create({ model: 'guarded-chat', max_tokens: 10, messages: [{ role: 'user', content: `card ${CARD}` }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.status).toBe(400);
    expect((e.error as { type: string; error: { type: string; message: string } }).error.type).toBe('invalid_request_error');
    expect((e.error as { error: { message: string } }).error.message).toContain('guardrail policy default/finance, rule no-cards');
    expect(JSON.stringify(e.error)).not.toContain('4111');
    expect(e.headers?.get('x-tollgate-guardrail')).toBe('default/finance');
  });

  it('ends a stream with an error event when a blocked answer arrives mid-stream', async () => {
    up.script({ kind: 'stream', chunks: 8, intervalMs: 0, content: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD' });
    const stream = await openai.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain('rule no-keys-out');
    expect(text).not.toContain('sk-proj');
  });

  it('counts blocked requests and blocked streams as outcome guardrail_blocked in the usage records', async () => {
    const outcomeOf = async (send: () => Promise<unknown>): Promise<RequestUsage['outcome'] | undefined> => {
      const before = records.length;
      await send().catch(() => undefined);
      // Records come when the response has closed.
      for (let i = 0; i < 500 && records.length === before; i++) await new Promise((r) => setTimeout(r, 10));
      return records.at(-1)?.outcome;
    };
    expect(await outcomeOf(() => chat(`card ${CARD}`))).toBe('guardrail_blocked');
    // The decisions travel with the record (names only) for the operator's aggregated Events.
    expect(records.at(-1)?.guardrails).toEqual([{ policy: 'default/finance', rule: 'no-cards', action: 'Block' }]);
    up.script({ kind: 'ok', content: 'fine' });
    expect(await outcomeOf(() => chat('hello'))).toBe('ok');
    up.script({ kind: 'stream', chunks: 8, intervalMs: 0, content: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD' });
    const streamed = async () => {
      const stream = await openai.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
      for await (const _ of stream);
    };
    expect(await outcomeOf(streamed)).toBe('guardrail_blocked');
  });

  it('/debug/route runs the policies on a sample request as a dry run: each rule\'s decision, no content, nothing upstream', async () => {
    const before = up.requests.length;
    const explain = async (content: string) => {
      const res = await fetch(`${gateway.adminUrl}/debug/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` },
        body: JSON.stringify({ model: 'guarded-chat', messages: [{ role: 'user', content }] }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      return { text, guardrails: (JSON.parse(text) as { decision: { guardrails: unknown } }).decision.guardrails };
    };
    const response = [
      { policy: 'default/finance', rule: 'mask-mail-out', phase: 'Response', action: 'Mask', detector: 'builtin', result: 'NotRun' },
      { policy: 'default/finance', rule: 'no-keys-out', phase: 'Response', action: 'Block', detector: 'builtin', result: 'NotRun' },
    ];
    const blocked = await explain(`project falcon: pay ${CARD}, receipt to ann@example.com`);
    expect(blocked.guardrails).toEqual({
      policies: ['default/finance'],
      outcome: 'blocked',
      refusal: { status: 400, code: 'guardrail_blocked', message: 'the request was blocked by guardrail policy default/finance, rule no-cards: it contains PaymentCard' },
      rules: [
        // A Monitor rule shows what it found: what it would have acted on.
        { policy: 'default/finance', rule: 'watch-falcon', phase: 'Request', action: 'Monitor', detector: 'denyList', result: 'Monitor', findings: { DenyList: 1 } },
        { policy: 'default/finance', rule: 'no-cards', phase: 'Request', action: 'Block', detector: 'builtin', result: 'Block', findings: { PaymentCard: 1 } },
        { policy: 'default/finance', rule: 'mask-mail', phase: 'Request', action: 'Mask', detector: 'builtin', result: 'NotReached' },
        ...response,
      ],
    });
    expect(blocked.text).not.toMatch(/4111|ann@|falcon:/);
    const masked = await explain('receipt to ann@example.com');
    expect(masked.guardrails).toMatchObject({
      outcome: 'masked',
      rules: [
        { rule: 'watch-falcon', result: 'Pass' },
        { rule: 'no-cards', result: 'Pass' },
        { rule: 'mask-mail', result: 'Mask', findings: { Email: 1 } },
        ...response,
      ],
    });
    expect(masked.text).not.toMatch(/ann@|\[EMAIL\]/);
    expect(up.requests.length).toBe(before);
  });
});
