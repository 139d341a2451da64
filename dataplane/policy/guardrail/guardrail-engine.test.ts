import { describe, expect, it } from 'vitest';
import type { GuardrailConfig, GuardrailRuleConfig } from '../../config/guardrail-config.js';
import type { JsonObject } from '../../core/canonical.js';
import type { Transport } from '../../upstream/transport.js';
import { RuntimeGuardrails, type RequestInfo } from './guardrail-engine.js';

const noTransport: Transport = { send: () => Promise.reject(new Error('no network in this test')) };
const info: RequestInfo = { requestId: 'r1', route: 'default/chat', model: 'chat', caller: 'anonymous', signal: new AbortController().signal };
const CARD = '4111 1111 1111 1111';

function policy(id: string, rules: GuardrailRuleConfig[], subjects: Partial<GuardrailConfig['subjects']> = { routes: ['default/chat'] }): GuardrailConfig {
  return { id, subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: [], ...subjects }, rules, holdBackChars: 32 };
}
const rule = (name: string, phase: 'Request' | 'Response', action: 'Block' | 'Mask' | 'Monitor', detector: GuardrailRuleConfig['detector']): GuardrailRuleConfig => ({ name, phase, action, detector });
const build = (...configs: GuardrailConfig[]) => RuntimeGuardrails.build(configs, { providers: new Map(), transport: noTransport });
const anonymous = { kind: 'anonymous' };
const chat = (...contents: (string | JsonObject[])[]): JsonObject => ({ model: 'chat', messages: contents.map((content) => ({ role: 'user', content })) });

describe('guardrail engine: request phase', () => {
  const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });

  it('blocks a prompt with a card number: 400 guardrail_blocked naming policy and rule, never the number', async () => {
    const active = build(policy('team-a/finance', [cards])).forRequest(anonymous, 'default/chat');
    const r = await active!.checkRequest(chat(`pay with ${CARD} please`), 10, info);
    expect(r.blocked?.status).toBe(400);
    expect(r.blocked?.toBody().error).toMatchObject({ type: 'invalid_request_error', code: 'guardrail_blocked' });
    expect(r.blocked?.message).toBe('the request was blocked by guardrail policy team-a/finance, rule no-cards: it contains PaymentCard');
    expect(r.blocked?.message).not.toContain('4111');
    expect(r.blocked?.headers['x-tollgate-guardrail']).toBe('team-a/finance');
    expect(r.decisions).toEqual([{ policy: 'team-a/finance', rule: 'no-cards', phase: 'Request', action: 'Block', detector: 'builtin', findings: { PaymentCard: 1 } }]);
  });

  // Before, each text part was checked alone: a card or an address cut in two parts of one message
  // (which the model reads as one text) passed every span rule.
  it('reads the text parts of one message as one text too: a match cut across parts is blocked, or masked in each part', async () => {
    const active = build(policy('team-a/finance', [cards])).forRequest(anonymous, 'default/chat');
    const split = chat([{ type: 'text', text: 'pay with 4111 1111' }, { type: 'text', text: ' 1111 1111 please' }]);
    expect((await active!.checkRequest(split, 10, info)).blocked?.code).toBe('guardrail_blocked');
    const bare: JsonObject = { model: 'chat', messages: [{ role: 'user', content: ['pay with 4111 11', '11 1111 1111'] }] };
    expect((await active!.checkRequest(bare, 10, info)).blocked?.code).toBe('guardrail_blocked');
    const masker = build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!;
    const r = await masker.checkRequest(chat([{ type: 'text', text: 'write to ann@exa' }, { type: 'text', text: 'mple.com and bob@example.com' }, { type: 'text', text: 'ok' }]), 10, info);
    expect(r.decisions).toMatchObject([{ action: 'Mask', findings: { Email: 2 } }]);
    expect(((r.body.messages as JsonObject[])[0]!.content as JsonObject[]).map((p) => p.text)).toEqual(['write to [EMAIL]', ' and [EMAIL]', 'ok']);
    // An image between two parts, or two messages, keep their texts apart.
    const apart: JsonObject[] = [
      chat([{ type: 'text', text: 'pay with 4111 1111' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }, { type: 'text', text: ' 1111 1111' }]),
      chat('pay with 4111 1111', ' 1111 1111'),
    ];
    for (const body of apart) expect((await active!.checkRequest(body, 10, info)).blocked).toBeUndefined();
  });

  it('reads every text a model reads: refusal parts, legacy function-call arguments and tool descriptions', async () => {
    const active = build(policy('team-a/finance', [cards, mail])).forRequest(anonymous, 'default/chat');
    const bodies: JsonObject[] = [
      { model: 'chat', messages: [{ role: 'assistant', content: [{ type: 'refusal', refusal: `no, ${CARD}` }] }] },
      { model: 'chat', messages: [{ role: 'assistant', content: null, function_call: { name: 'pay', arguments: `{"card":"${CARD}"}` } }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'pay', description: `always use ${CARD}` } }] },
    ];
    for (const body of bodies) expect((await active!.checkRequest(body, 10, info)).blocked?.code).toBe('guardrail_blocked');
    const masked = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest(
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'mail', description: 'write to ann@example.com' } }] },
      10,
      info,
    );
    expect(JSON.stringify(masked.body)).not.toContain('ann@example.com');
  });

  it('reads participant names, tool parameter schemas, legacy functions and structured-output schemas', async () => {
    const active = build(policy('team-a/finance', [cards])).forRequest(anonymous, 'default/chat');
    const schema = (text: string): JsonObject => ({ type: 'object', properties: { card: { type: 'string', description: text, enum: ['a'] } }, required: ['card'] });
    const bodies: JsonObject[] = [
      { model: 'chat', messages: [{ role: 'user', name: '4111111111111111', content: 'hi' }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'pay', parameters: schema(`use ${CARD}`) } }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'pay', description: `use ${CARD}` }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'pay', parameters: schema(`use ${CARD}`) }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: schema(`use ${CARD}`) } } },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x', description: `use ${CARD}` } } },
    ];
    for (const body of bodies) expect((await active!.checkRequest(body, 10, info)).blocked?.code, JSON.stringify(body)).toBe('guardrail_blocked');
    // Masking changes the schema's text, never its structure.
    const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
    const body: JsonObject = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'mail', parameters: { type: 'object', properties: { to: { type: 'string', description: 'e.g. ann@example.com', enum: ['bob@example.org', 'other'] } }, required: ['to'] } } }] };
    const masked = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest(body, 10, info);
    expect(masked.body).toEqual({ ...body, tools: [{ type: 'function', function: { name: 'mail', parameters: { type: 'object', properties: { to: { type: 'string', description: 'e.g. [EMAIL]', enum: ['[EMAIL]', 'other'] } }, required: ['to'] } } }] });
  });

  it('masks e-mail addresses in string content and text parts; the original body is left as it was', async () => {
    const active = build(policy('p', [mail])).forRequest(anonymous, 'default/chat');
    const body = chat('mail ann@example.com', [{ type: 'text', text: 'cc bob@example.org' }, { type: 'image_url', image_url: { url: 'x' } }]);
    const before = structuredClone(body);
    const r = await active!.checkRequest(body, 10, info);
    expect(r.blocked).toBeUndefined();
    expect(r.body).toEqual(chat('mail [EMAIL]', [{ type: 'text', text: 'cc [EMAIL]' }, { type: 'image_url', image_url: { url: 'x' } }]));
    expect(body).toEqual(before);
    expect(r.masked).toEqual(['p']);
    expect(r.decisions[0]).toMatchObject({ action: 'Mask', findings: { Email: 2 } });
  });

  it('runs rules in order: a later rule sees the masked text', async () => {
    const deny = rule('no-mail-marker', 'Request', 'Block', { kind: 'denyList', phrases: ['EMAIL'] });
    const active = build(policy('p', [mail, deny])).forRequest(anonymous, 'default/chat');
    const r = await active!.checkRequest(chat('write to ann@example.com'), 10, info);
    expect(r.decisions.map((d) => `${d.rule}:${d.action}`)).toEqual(['mask-mail:Mask', 'no-mail-marker:Block']);
  });

  it('Monitor decides and records, and changes nothing', async () => {
    const watch = rule('watch-cards', 'Request', 'Monitor', { kind: 'builtin', names: ['PaymentCard'] });
    const body = chat(`card ${CARD}`);
    const r = await build(policy('p', [watch])).forRequest(anonymous, 'default/chat')!.checkRequest(body, 10, info);
    expect(r.body).toBe(body);
    expect(r.blocked).toBeUndefined();
    expect(r.decisions).toEqual([{ policy: 'p', rule: 'watch-cards', phase: 'Request', action: 'Monitor', detector: 'builtin', findings: { PaymentCard: 1 } }]);
  });

  it('deny lists match whole words and phrases, case-insensitively, whatever separates the words', async () => {
    const deny = rule('falcon', 'Request', 'Mask', { kind: 'denyList', phrases: ['Project Falcon', 'zebra'] });
    const r = await build(policy('p', [deny])).forRequest(anonymous, 'default/chat')!.checkRequest(chat('about PROJECT-falcon and zebras, not zebra.'), 10, info);
    expect(r.body).toEqual(chat('about [DENIED] and zebras, not [DENIED].'));
  });

  it('deny lists and patterns read look-alikes as the built-in detectors do: a request written with them is refused, a masked one keeps the rest as written', async () => {
    const deny = rule('falcon', 'Request', 'Block', { kind: 'denyList', phrases: ['Project Falcon'] });
    const ids = rule('ids', 'Request', 'Block', { kind: 'patterns', patterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }] });
    const active = build(policy('p', [deny, ids])).forRequest(anonymous, 'default/chat')!;
    for (const text of ['about \uff30\uff52\uff4f\uff4a\uff45\uff43\uff54 \uff26\uff41\uff4c\uff43\uff4f\uff4e', 'about pro\u200bject fal\u2060con', 'id EMP\uff0d\u0664\u0665\u0666\u0667\u0668\u0669', 'id EMP-\u0966\u0967\u0968\u0969\u096a\u096b']) {
      const r = await active.checkRequest(chat(text), 10, info);
      expect(r.blocked?.code, JSON.stringify(text)).toBe('guardrail_blocked');
    }
    const mask = rule('falcon', 'Request', 'Mask', { kind: 'denyList', phrases: ['Project Falcon'] });
    const r = await build(policy('p', [mask])).forRequest(anonymous, 'default/chat')!.checkRequest(chat('\u00bfproject\u00a0fal\u200bcon\uff1f caf\u00e9'), 10, info);
    expect(r.body).toEqual(chat('\u00bf[DENIED]\uff1f caf\u00e9'));
  });

  it('custom patterns become their typed marker', async () => {
    const ids = rule('ids', 'Request', 'Mask', { kind: 'patterns', patterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }] });
    const r = await build(policy('p', [ids])).forRequest(anonymous, 'default/chat')!.checkRequest({ model: 'm', prompt: ['EMP-123456 left', 'none'] }, 10, info);
    expect(r.body).toEqual({ model: 'm', prompt: ['[EMPLOYEE_ID] left', 'none'] });
  });

  // A pattern's name is a tenant's: counted on a plain object, `constructor` read Object.prototype's and wrote "function Object() { [native code] }1".
  it('counts findings of a pattern named like an Object.prototype member as numbers', async () => {
    const named = rule('named', 'Request', 'Monitor', { kind: 'patterns', patterns: [{ name: 'constructor', pattern: 'EMP-[0-9]{6}' }, { name: 'toString', pattern: 'ID-[0-9]{4}' }] });
    const r = await build(policy('p', [named])).forRequest(anonymous, 'default/chat')!.checkRequest(chat('EMP-123456, EMP-654321 and ID-1234'), 10, info);
    expect(r.decisions[0]?.findings).toEqual({ constructor: 2, toString: 1 });
  });

  it('refuses a prompt over maxPromptTokens with the numbers, not the text', async () => {
    const size = rule('size', 'Request', 'Block', { kind: 'maxPromptTokens', max: 100 });
    const r = await build(policy('p', [size])).forRequest(anonymous, 'default/chat')!.checkRequest(chat('x'), 150, info);
    expect(r.blocked?.message).toBe('the request was blocked by guardrail policy p, rule size: the prompt is about 150 tokens, more than the 100 allowed');
  });

  it('applies a policy only to its subjects', () => {
    const g = build(policy('p', [cards], { namespaces: ['team-a'], serviceAccounts: ['team-b/app'] }));
    expect(g.forRequest({ kind: 'serviceaccount', namespace: 'team-a', name: 'x' }, 'default/other')).toBeDefined();
    expect(g.forRequest({ kind: 'serviceaccount', namespace: 'team-b', name: 'app' }, 'default/other')).toBeDefined();
    expect(g.forRequest({ kind: 'serviceaccount', namespace: 'team-b', name: 'other' }, 'default/other')).toBeUndefined();
    expect(g.forRequest(anonymous, 'default/other')).toBeUndefined();
  });
});

describe('guardrail engine: response phase (complete answers)', () => {
  it('masks what the client receives and blocks with the response wording', async () => {
    const mail = rule('mask-mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] });
    const secrets = rule('no-keys', 'Response', 'Block', { kind: 'builtin', names: ['Credential'] });
    const active = build(policy('p', [mail, secrets])).forRequest(anonymous, 'default/chat')!;
    const answer = (content: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });
    const masked = await active.checkResponse(answer('reach me at ann@example.com'), info);
    expect(masked.body).toEqual(answer('reach me at [EMAIL]'));
    const blocked = await active.checkResponse(answer('use key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD'), info);
    expect(blocked.blocked?.message).toBe('the response was blocked by guardrail policy p, rule no-keys: it contains Credential');
    // Request rules do not run on answers, and response rules not on requests.
    const r = await active.checkRequest(chat('ann@example.com'), 5, info);
    expect(r.decisions).toEqual([]);
  });
});

describe('guardrail engine: tool-call arguments', () => {
  const toolHistory = (args: string): JsonObject => ({
    model: 'chat',
    messages: [
      { role: 'user', content: 'mail the report' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: args } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sent to bob@example.org' },
    ],
  });

  it('checks and masks the arguments of tool calls in a request (and tool results), leaving valid JSON', async () => {
    const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
    const r = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest(toolHistory('{"to":"ann@example.com"}'), 10, info);
    expect(r.body).toEqual({
      model: 'chat',
      messages: [
        { role: 'user', content: 'mail the report' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: '{"to":"[EMAIL]"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sent to [EMAIL]' },
      ],
    });
    expect(r.decisions[0]?.findings).toEqual({ Email: 2 });
  });

  it('blocks a request whose tool-call arguments carry a card number', async () => {
    const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
    const r = await build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!.checkRequest(toolHistory(`{"card":"${CARD}"}`), 10, info);
    expect(r.blocked?.code).toBe('guardrail_blocked');
  });

  it('masks tool-call arguments in a complete answer, and blocks on them', async () => {
    const answer: JsonObject = {
      id: 'x',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'pay', arguments: `{"to":"ann@example.com","card":"${CARD}"}` } }] }, finish_reason: 'tool_calls' }],
    };
    const mail = rule('mask-mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] });
    const masked = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkResponse(answer, info);
    const fn = ((((masked.body.choices as JsonObject[])[0]?.message as JsonObject).tool_calls as JsonObject[])[0]?.function as JsonObject);
    expect(JSON.parse(String(fn.arguments))).toEqual({ to: '[EMAIL]', card: CARD });
    const cards = rule('no-cards', 'Response', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
    const blocked = await build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!.checkResponse(answer, info);
    expect(blocked.blocked?.message).toBe('the response was blocked by guardrail policy p, rule no-cards: it contains PaymentCard');
  });
});

describe('guardrail engine: logprobs under response rules', () => {
  const mail = rule('mask-mail-out', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] });
  const tokens = (text: string): JsonObject => ({ content: (text.match(/.{1,3}/g) ?? []).map((token) => ({ token, logprob: -0.1, top_logprobs: [] })) });

  it('refuses a request that asks for logprobs or top_logprobs (400 guardrail_unsupported naming the field), only when response rules apply', async () => {
    const active = build(policy('team-a/p', [mail])).forRequest(anonymous, 'default/chat')!;
    const asked = await active.checkRequest({ ...chat('hi'), logprobs: true, top_logprobs: 2 }, 5, info);
    expect(asked.blocked?.status).toBe(400);
    expect(asked.blocked?.toBody().error).toMatchObject({ type: 'invalid_request_error', code: 'guardrail_unsupported', param: 'logprobs' });
    expect(asked.blocked?.message).toContain('guardrail policy team-a/p');
    expect((await active.checkRequest({ model: 'c', prompt: 'hi', logprobs: 0 }, 5, info)).blocked?.param).toBe('logprobs');
    expect((await active.checkRequest({ ...chat('hi'), top_logprobs: 3 }, 5, info)).blocked?.param).toBe('top_logprobs');
    expect((await active.checkRequest({ ...chat('hi'), logprobs: false, top_logprobs: null }, 5, info)).blocked).toBeUndefined();
    const requestOnly = build(policy('p', [rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await requestOnly.checkRequest({ ...chat('hi'), logprobs: true }, 5, info)).blocked).toBeUndefined();
  });

  it('drops choices[].logprobs from a complete answer, whose tokens would carry what was masked', async () => {
    const active = build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!;
    const answer: JsonObject = { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'mail ann@example.com' }, logprobs: tokens('mail ann@example.com'), finish_reason: 'stop' }] };
    const r = await active.checkResponse(answer, info);
    expect(r.body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'mail [EMAIL]' }, logprobs: null, finish_reason: 'stop' }]);
    const text: JsonObject = { id: 'x', object: 'text_completion', choices: [{ index: 0, text: 'fine', logprobs: { tokens: ['fine'] }, finish_reason: 'stop' }] };
    expect(JSON.stringify((await active.checkResponse(text, info)).body)).not.toContain('tokens');
  });
});

describe('guardrail engine: every content part that carries text', () => {
  const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
  const active = build(policy('team-a/p', [cards, mail])).forRequest(anonymous, 'default/chat')!;

  it('reads bare strings in a content array, input_text, output_text and thinking parts, and assistant reasoning', async () => {
    const bodies: JsonObject[] = [
      chat([`charge ${CARD}`] as unknown as JsonObject[]),
      chat([{ type: 'input_text', text: `charge ${CARD}` }]),
      chat([{ type: 'output_text', text: `charge ${CARD}` }]),
      chat([{ type: 'thinking', thinking: `charge ${CARD}`, signature: 'sig' }]),
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok', reasoning_content: `card ${CARD}` }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok', reasoning: `card ${CARD}` }] },
    ];
    for (const body of bodies) expect((await active.checkRequest(body, 10, info)).blocked?.code, JSON.stringify(body)).toBe('guardrail_blocked');
    const masked = await active.checkRequest(chat([{ type: 'input_text', text: 'mail ann@example.com' }, 'and bob@example.org'] as unknown as JsonObject[]), 10, info);
    expect(masked.body).toEqual(chat([{ type: 'input_text', text: 'mail [EMAIL]' }, 'and [EMAIL]'] as unknown as JsonObject[]));
  });

  it('refuses a part of a type it does not read that carries strings (400 guardrail_unsupported naming it); media parts pass unread', async () => {
    const r = await active.checkRequest(chat([{ type: 'text', text: 'hi' }, { type: 'mystery', body: { words: `charge ${CARD}` } }]), 10, info);
    expect(r.blocked?.toBody().error).toMatchObject({ code: 'guardrail_unsupported', param: 'messages.0.content.1', type: 'invalid_request_error' });
    expect(r.blocked?.message).toContain('type mystery');
    expect((await active.checkRequest(chat([{ text: `charge ${CARD}` }]), 10, info)).blocked?.param).toBe('messages.0.content.0');
    const media = chat([{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }, { type: 'file', file: { file_data: 'AAAA' } }]);
    expect((await active.checkRequest(media, 10, info)).blocked).toBeUndefined();
    // Only rules that read the text need it: a size rule alone does not refuse.
    const size = build(policy('p', [rule('size', 'Request', 'Block', { kind: 'maxPromptTokens', max: 1000 })])).forRequest(anonymous, 'default/chat')!;
    expect((await size.checkRequest(chat([{ type: 'mystery', body: 'x' }]), 10, info)).blocked).toBeUndefined();
  });
});

describe('guardrail engine: anonymous callers', () => {
  it("count as the route's namespace: a namespaces policy applies on that namespace's routes opened to anyone, as Budgets do", () => {
    const g = build(policy('tollgate/cards', [rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] })], { namespaces: ['team-a'] }));
    expect(g.forRequest(anonymous, 'team-a/chat')).toBeDefined();
    expect(g.forRequest(anonymous, 'team-b/chat')).toBeUndefined();
  });
});

describe('guardrail engine: legacy function_call in answers', () => {
  it('masks and blocks on its arguments, as on a tool call', async () => {
    const answer = (args: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, function_call: { name: 'send', arguments: args } }, finish_reason: 'function_call' }] });
    const mail = build(policy('p', [rule('mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await mail.checkResponse(answer('{"to":"ann@example.com"}'), info)).body).toEqual(answer('{"to":"[EMAIL]"}'));
    const keys = build(policy('p', [rule('no-keys', 'Response', 'Block', { kind: 'builtin', names: ['Credential'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await keys.checkResponse(answer('{"key":"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"}'), info)).blocked?.code).toBe('guardrail_blocked');
  });
});

describe('guardrail engine: JSON escapes in tool-call arguments', () => {
  const escaped = '{"to":"ann\\u0040example.com","subject":"project\\u0020falcon"}';
  const deny = rule('no-falcon', 'Request', 'Block', { kind: 'denyList', phrases: ['project falcon'] });

  it('checks a request history by what the escapes spell', async () => {
    const body: JsonObject = { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'send', arguments: escaped } }] }] };
    expect((await build(policy('p', [deny])).forRequest(anonymous, 'default/chat')!.checkRequest(body, 10, info)).blocked?.code).toBe('guardrail_blocked');
  });

  it('masks an escaped address in an answer over its whole escape, leaving valid JSON', async () => {
    const answer = (args: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'send', arguments: args } }] }, finish_reason: 'tool_calls' }] });
    const mail = build(policy('p', [rule('mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] })])).forRequest(anonymous, 'default/chat')!;
    const r = await mail.checkResponse(answer(escaped), info);
    const args = (((r.body.choices as JsonObject[])[0]?.message as JsonObject).tool_calls as JsonObject[])[0]?.function as JsonObject;
    expect(JSON.parse(String(args.arguments))).toEqual({ to: '[EMAIL]', subject: 'project falcon' });
  });
});

describe('guardrail engine: prompts and inputs given as token ids', () => {
  const deny = rule('no-falcon', 'Request', 'Block', { kind: 'denyList', phrases: ['project falcon'] });
  const active = build(policy('p', [deny])).forRequest(anonymous, 'default/chat')!;

  it('refuses them under rules that read the text (400 guardrail_unsupported naming the field)', async () => {
    expect((await active.checkRequest({ model: 'c', prompt: [16354, 282, 23187] }, 5, info)).blocked?.toBody().error).toMatchObject({ code: 'guardrail_unsupported', param: 'prompt' });
    expect((await active.checkRequest({ model: 'c', prompt: ['fine', [16354, 282]] }, 5, info)).blocked?.param).toBe('prompt.1');
    expect((await active.checkRequest({ model: 'e', input: [[1, 2], [3]] }, 5, info)).blocked?.param).toBe('input.0');
    expect((await active.checkRequest({ model: 'e', input: ['fine', 'text'] }, 5, info)).blocked).toBeUndefined();
  });

  it("checks a completion's suffix", async () => {
    expect((await active.checkRequest({ model: 'c', prompt: 'def f():', suffix: 'return "project falcon"' }, 5, info)).blocked?.code).toBe('guardrail_blocked');
  });
});

describe('guardrail engine: refusal and reasoning in answers', () => {
  it('masks them as the content', async () => {
    const mail = build(policy('p', [rule('mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] })])).forRequest(anonymous, 'default/chat')!;
    const answer = (text: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: `no, ${text}`, reasoning_content: `think ${text}`, reasoning: `also ${text}` }, finish_reason: 'stop' }] });
    expect((await mail.checkResponse(answer('ann@example.com'), info)).body).toEqual(answer('[EMAIL]'));
  });
});

describe('guardrail engine: custom pattern work per request', () => {
  const corpMail = rule('corp-mail', 'Request', 'Mask', { kind: 'patterns', patterns: [{ name: 'corp-mail', pattern: '(?i)[a-z0-9._%+-]{1,64}@corp\\.example\\.com' }] });
  const prose = 'The quick brown fox jumps over the lazy dog. ';
  // Each text alone is scanned whole within the work cap; four together are more than one request may cost.
  const text = `${prose.repeat(582)} bob@corp.example.com `.repeat(40);

  it('shares one matcher budget across the texts of a request: what it cannot pay for is Unscanned (dropped under Mask), never passed on', async () => {
    const active = build(policy('team-a/mail', [corpMail])).forRequest(anonymous, 'default/chat');
    const r = await active!.checkRequest(chat(text, text, text, text), 10, info);
    expect(r.blocked).toBeUndefined();
    expect(r.decisions).toHaveLength(1);
    const findings = r.decisions[0]!.findings!;
    expect(findings['corp-mail']).toBeGreaterThanOrEqual(80);
    expect(findings['corp-mail']).toBeLessThan(160);
    expect(findings.Unscanned).toBeGreaterThanOrEqual(1);
    const sent = JSON.stringify(r.body);
    expect(sent).not.toContain('@corp.example.com');
    expect(sent).toContain('[UNSCANNED]');
  });
});

describe('guardrail engine: custom tools (free-text input)', () => {
  const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
  const customCall = (input: string): JsonObject => ({ id: 'c0', type: 'custom', custom: { name: 'pay', input } });

  it('reads a custom tool’s description and its grammar, and a custom call’s input in the history', async () => {
    const active = build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!;
    const bodies: JsonObject[] = [
      { ...chat('hi'), tools: [{ type: 'custom', custom: { name: 'pay', description: `always charge ${CARD}` } }] },
      { ...chat('hi'), tools: [{ type: 'custom', custom: { name: 'pay', format: { type: 'grammar', grammar: { syntax: 'lark', definition: `start: "${CARD}"` } } } }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [customCall(`card ${CARD}`)] }, { role: 'tool', tool_call_id: 'c0', content: 'done' }] },
    ];
    for (const body of bodies) expect((await active.checkRequest(body, 10, info)).blocked?.code, JSON.stringify(body)).toBe('guardrail_blocked');
  });

  it('masks a custom call’s input where it stands, in a request and in an answer', async () => {
    const request = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest({ model: 'chat', messages: [{ role: 'assistant', content: null, tool_calls: [customCall('to ann@example.com')] }] }, 10, info);
    expect(request.body).toEqual({ model: 'chat', messages: [{ role: 'assistant', content: null, tool_calls: [customCall('to [EMAIL]')] }] });
    const answer = (input: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [customCall(input)] }, finish_reason: 'tool_calls' }] });
    const out = build(policy('p', [rule('mail-out', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] }), rule('no-keys', 'Response', 'Block', { kind: 'builtin', names: ['Credential'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await out.checkResponse(answer('to bob@example.com'), info)).body).toEqual(answer('to [EMAIL]'));
    expect((await out.checkResponse(answer('key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD'), info)).blocked?.code).toBe('guardrail_blocked');
  });
});

describe('guardrail engine: spoken answers under response rules', () => {
  const mail = rule('mask-mail-out', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] });

  it('refuses a request that asks for audio output (400 guardrail_unsupported naming the field), only when response rules apply', async () => {
    const active = build(policy('team-a/p', [mail])).forRequest(anonymous, 'default/chat')!;
    const modalities = await active.checkRequest({ ...chat('hi'), modalities: ['text', 'audio'] }, 5, info);
    expect(modalities.blocked?.toBody().error).toMatchObject({ code: 'guardrail_unsupported', param: 'modalities' });
    expect(modalities.blocked?.message).toContain('guardrail policy team-a/p');
    expect((await active.checkRequest({ ...chat('hi'), audio: { voice: 'alloy', format: 'wav' } }, 5, info)).blocked?.param).toBe('audio');
    expect((await active.checkRequest({ ...chat('hi'), modalities: ['text'] }, 5, info)).blocked).toBeUndefined();
    const requestOnly = build(policy('p', [rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await requestOnly.checkRequest({ ...chat('hi'), modalities: ['text', 'audio'] }, 5, info)).blocked).toBeUndefined();
  });

  it('blocks an answer whose audio transcript a Mask or Block rule flags: the audio says it too and cannot be masked', async () => {
    const answer = (transcript: string): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, audio: { id: 'a1', data: 'AAAA', expires_at: 1, transcript } }, finish_reason: 'stop' }] });
    const active = build(policy('p', [mail, rule('no-keys', 'Response', 'Block', { kind: 'builtin', names: ['Credential'] })])).forRequest(anonymous, 'default/chat')!;
    const masked = await active.checkResponse(answer('write to bob@example.com'), info);
    expect(masked.blocked?.code).toBe('guardrail_blocked');
    expect(masked.decisions).toEqual([{ policy: 'p', rule: 'mask-mail-out', phase: 'Response', action: 'Block', detector: 'builtin', findings: { Email: 1 } }]);
    expect((await active.checkResponse(answer('key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD'), info)).blocked?.code).toBe('guardrail_blocked');
    const clean = await active.checkResponse(answer('hello there'), info);
    expect(clean.blocked).toBeUndefined();
    expect(clean.body).toEqual(answer('hello there'));
  });
});

describe('guardrail engine: request fields it does not know', () => {
  const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });

  it('reads every string of a top-level field outside the known settings (a prediction, vLLM documents and template arguments)', async () => {
    const active = build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!;
    for (const extra of [{ prediction: { type: 'content', content: `card ${CARD}` } }, { documents: [{ title: 'd', text: `card ${CARD}` }] }, { chat_template_kwargs: { note: `card ${CARD}` } }, { anything: [`card ${CARD}`] }]) {
      expect((await active.checkRequest({ ...chat('hi'), ...extra }, 5, info)).blocked?.code, JSON.stringify(extra)).toBe('guardrail_blocked');
    }
    expect((await active.checkRequest({ model: 'c', prompt: 'hi', extra_body_text: `card ${CARD}` }, 5, info)).blocked?.code).toBe('guardrail_blocked');
  });

  it('masks them where they stand; settings and ids (user, metadata, tool_choice) are not read', async () => {
    const active = build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!;
    const r = await active.checkRequest({ ...chat('hi'), prediction: { type: 'content', content: 'mail ann@example.com' }, user: 'ann@example.com', metadata: { owner: 'ann@example.com' } }, 5, info);
    expect(r.body).toEqual({ ...chat('hi'), prediction: { type: 'content', content: 'mail [EMAIL]' }, user: 'ann@example.com', metadata: { owner: 'ann@example.com' } });
  });
});

describe('guardrail engine: message and content-part fields it does not know', () => {
  const cards = rule('no-cards', 'Request', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
  const DATA_URL = `data:image/png;base64,${'iVBORw0KGgo/+14155552671+4111111111111111'.repeat(4)}`;

  it('reads every string of a message field or a part field outside the known ones (before, they went upstream unchecked)', async () => {
    const active = build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!;
    const bodies: JsonObject[] = [
      { model: 'chat', messages: [{ role: 'user', content: 'hi', foo: `card ${CARD}` }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi', documents: [{ title: 't', text: `card ${CARD}` }] }] },
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, refusal: `card ${CARD}` }] },
      { model: 'chat', messages: [{ role: 'user', content: { text: `card ${CARD}` } }] },
      chat([{ type: 'text', text: 'hi', foo: `card ${CARD}` }]),
      chat([{ type: 'text', text: 'hi', annotations: [{ type: 'note', note: `card ${CARD}` }] }]),
      chat([{ type: 'image_url', image_url: { url: 'https://example.com/a.png' }, caption: `card ${CARD}` }]),
      { model: 'chat', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: '{}' }, note: `card ${CARD}` }] }] },
      { model: 'chat', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: '{}', description: `card ${CARD}` } }] }] },
    ];
    for (const body of bodies) expect((await active.checkRequest(body, 10, info)).blocked?.code, JSON.stringify(body)).toBe('guardrail_blocked');
  });

  it('masks them where they stand; the media itself, ids, a cache breakpoint and a signature are not read', async () => {
    const active = build(policy('p', [cards, mail])).forRequest(anonymous, 'default/chat')!;
    const body = (note: string, caption: string, extra: string): JsonObject => ({
      model: 'chat',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' }, extra }, { type: 'image_url', image_url: { url: DATA_URL, detail: 'high' }, caption }], note },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'ok', signature: 'sig+14155552671ann@example.com' }], id: 'ann@example.com', thinking_blocks: [{ type: 'thinking', thinking: note, signature: 'sig/+4111111111111111ann@example.com' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'ann@example.com', type: 'function', function: { name: 'ann@example.com', arguments: '{}' }, note }] },
        { role: 'tool', tool_call_id: 'ann@example.com', content: 'done' },
      ],
    });
    const r = await active.checkRequest(body('mail ann@example.com', 'from bob@example.org', 'to cy@example.net'), 10, info);
    expect(r.blocked).toBeUndefined();
    expect(r.body).toEqual(body('mail [EMAIL]', 'from [EMAIL]', 'to [EMAIL]'));
  });
});

describe('guardrail engine: JSON escapes in tool results', () => {
  it('checks and masks a tool message by what its escapes spell, leaving valid JSON', async () => {
    const mail = rule('mask-mail', 'Request', 'Mask', { kind: 'builtin', names: ['Email'] });
    const body = (content: unknown): JsonObject => ({ model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'x', content }] });
    const r = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest(body('{"email":"ann\\u0040example.com"}'), 5, info);
    expect(r.body).toEqual(body('{"email":"[EMAIL]"}'));
    const parts = await build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!.checkRequest(body([{ type: 'text', text: '{"email":"ann\\u0040example.com"}' }]), 5, info);
    expect(parts.body).toEqual(body([{ type: 'text', text: '{"email":"[EMAIL]"}' }]));
  });
});

describe('guardrail engine: fields of an answer the gateway does not know', () => {
  const mail = rule('mask-mail-out', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] });
  const cards = rule('no-cards-out', 'Response', 'Block', { kind: 'builtin', names: ['PaymentCard'] });
  const answer = (message: JsonObject, choice: JsonObject = {}, top: JsonObject = {}): JsonObject => ({
    id: 'x', object: 'chat.completion', model: 'm', ...top,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok', ...message }, logprobs: null, finish_reason: 'stop', ...choice }],
  });

  it('masks unknown fields of the answer, its choices, messages, tool calls and thinking blocks where they stand', async () => {
    const active = build(policy('p', [mail])).forRequest(anonymous, 'default/chat')!;
    const body = answer(
      {
        foo: 'write to ann@example.com',
        annotations: [{ type: 'url_citation', url_citation: { title: 'bob@example.com', url: 'https://example.com' } }],
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: '{}', note: 'carl@example.com' }, why: 'dan@example.com' }],
        thinking_blocks: [{ type: 'thinking', thinking: 'fine', signature: 'eve@example.com', summary: 'eve@example.com' }],
      },
      { explanation: 'fay@example.com' },
      { debug: { echo: 'gil@example.com' } },
    );
    const r = await active.checkResponse(body, info);
    const text = JSON.stringify(r.body);
    for (const who of ['ann@', 'bob@', 'carl@', 'dan@', 'fay@', 'gil@']) expect(text).not.toContain(who);
    expect(text).toContain('"foo":"write to [EMAIL]"');
    expect(text).toContain('"signature":"eve@example.com"');
    expect(text).toContain('"url":"https://example.com"');
    expect(r.masked).toEqual(['p']);
  });

  it('blocks an answer whose unknown field carries what a Block rule finds, and leaves ids and filter results alone', async () => {
    const active = build(policy('p', [cards])).forRequest(anonymous, 'default/chat')!;
    for (const body of [answer({ foo: `pay ${CARD}` }), answer({}, { extra: [CARD] }), answer({}, {}, { note: CARD }), answer({ tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' }, x: CARD }] })]) {
      expect((await active.checkResponse(body, info)).blocked?.code).toBe('guardrail_blocked');
    }
    // An embeddings answer's base64 vectors are no text (these bytes spell a card number).
    const vectors: JsonObject = { object: 'list', model: 'm', data: [{ object: 'embedding', index: 0, embedding: 'AAAA4111111111111111AAAA' }], usage: { prompt_tokens: 1, total_tokens: 1 } };
    expect((await active.checkResponse(vectors, info)).blocked).toBeUndefined();
    const quiet = answer({}, { content_filter_results: { hate: { filtered: false, severity: 'safe' } }, stop_reason: CARD }, { system_fingerprint: CARD, id: CARD });
    expect((await active.checkResponse(quiet, info)).blocked).toBeUndefined();
  });
});

describe('guardrail engine: an answer whose content is not a string', () => {
  // Mistral's reasoning models answer with content as a list of parts (thinking, text); before,
  // only string content was read, and such an answer passed every response rule.
  const parts = (text: string): JsonObject[] => [{ type: 'thinking', thinking: [{ type: 'text', text: 'let me think' }] }, { type: 'text', text }];
  const answer = (content: JsonObject[]): JsonObject => ({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });

  it('reads its strings where they stand: a Block rule blocks, a Mask rule masks', async () => {
    const keys = build(policy('p', [rule('no-keys', 'Response', 'Block', { kind: 'builtin', names: ['Credential'] })])).forRequest(anonymous, 'default/chat')!;
    expect((await keys.checkResponse(answer(parts('key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD')), info)).blocked?.code).toBe('guardrail_blocked');
    const mail = build(policy('p', [rule('mail', 'Response', 'Mask', { kind: 'builtin', names: ['Email'] })])).forRequest(anonymous, 'default/chat')!;
    const r = await mail.checkResponse(answer(parts('write to ann@example.com')), info);
    expect(r.body).toEqual(answer(parts('write to [EMAIL]')));
  });
});
