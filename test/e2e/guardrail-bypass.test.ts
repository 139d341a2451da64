import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// GuardrailPolicy bypasses an audit found, through the real gateway: what the checker could not
// read went upstream (or out to the client) unchecked; now it is checked, dropped or refused.
let up: OpenAiUpstream;
let gateway: TestGateway;

const CARD = '4111 1111 1111 1111';
const usage = { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 };

const manifests = (baseUrl: string): string => `${openAiProvider('hosted', baseUrl)}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: guarded }
spec:
  model: guarded
  access: { anonymous: true }
  targets: [{ providerRef: { name: hosted }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: p }
spec:
  subjects: { routes: [{ name: guarded }] }
  streaming: { holdBackChars: 32 }
  rules:
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-mail, phase: Request, action: Mask, detector: { builtin: [Email] } }
    - { name: mask-mail-out, phase: Response, action: Mask, detector: { builtin: [Email] } }
    - { name: no-keys-out, phase: Response, action: Block, detector: { builtin: [Credential] } }
`;

/** A route to a Provider that serves the Responses API natively, under request rules only. */
const nativeManifests = (baseUrl: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: oai }
spec:
  type: openai
  url: ${baseUrl}
  credentials: { secretRef: { name: oai-key, key: apiKey } }
---
apiVersion: v1
kind: Secret
metadata: { name: oai-key }
stringData: { apiKey: sk-oai }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: native }
spec:
  model: native
  access: { anonymous: true }
  targets: [{ providerRef: { name: oai }, model: gpt }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: n }
spec:
  subjects: { routes: [{ name: native }] }
  rules:
    - { name: no-falcon, phase: Request, action: Block, detector: { denyList: { phrases: [project falcon] } } }
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-mail, phase: Request, action: Mask, detector: { builtin: [Email] } }
`;

beforeAll(async () => {
  up = await startOpenAiUpstream();
  gateway = await startTestGateway({ 'all.yaml': manifests(up.baseUrl), 'native.yaml': nativeManifests(up.baseUrl) });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string; param: string | null; message: string } } }> {
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as never };
}

/** Posts and expects the guardrail's 400 naming `param`, with nothing sent upstream. */
async function refused(path: string, body: unknown, param: string): Promise<void> {
  const before = up.requests.length;
  const r = await post(path, body);
  expect(r.status).toBe(400);
  expect(r.body.error).toMatchObject({ code: 'guardrail_unsupported', param });
  expect(r.body.error?.message).toContain('guardrail policy default/p');
  expect(up.requests.length).toBe(before);
}

describe('logprobs on a route with response rules', () => {
  it('refuses a request that asks for them, naming the field; nothing goes upstream', async () => {
    await refused('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }], logprobs: true }, 'logprobs');
    await refused('/v1/completions', { model: 'guarded', prompt: 'hi', logprobs: 1 }, 'logprobs');
  });

  it('drops the logprobs of an answer that carries them anyway: their tokens would spell what was masked', async () => {
    const text = 'mail ann@example.com';
    const logprobs = { content: (text.match(/.{1,3}/g) ?? []).map((token) => ({ token, logprob: -0.1, top_logprobs: [] })) };
    up.script({ kind: 'error', status: 200, body: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt', usage, choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs, finish_reason: 'stop' }] } });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.body)).not.toContain('ann');
    expect((r.body.choices as { logprobs: unknown }[])[0]?.logprobs).toBeNull();
  });
});

describe('chat content parts the checker used to skip', () => {
  const ask = (content: unknown, extra: Record<string, unknown> = {}) => ({ model: 'guarded', messages: [{ role: 'user', content }, ...(Object.keys(extra).length > 0 ? [{ role: 'assistant', content: 'ok', ...extra }, { role: 'user', content: 'go on' }] : [])] });

  it('checks bare strings, input_text, output_text and thinking parts and assistant reasoning_content: a card is refused, nothing goes upstream', async () => {
    for (const body of [ask([`charge ${CARD}`]), ask([{ type: 'input_text', text: `charge ${CARD}` }]), ask([{ type: 'output_text', text: `charge ${CARD}` }]), ask([{ type: 'thinking', thinking: `charge ${CARD}` }]), ask('hi', { reasoning_content: `card ${CARD}` })]) {
      const before = up.requests.length;
      const r = await post('/v1/chat/completions', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error?.code).toBe('guardrail_blocked');
      expect(up.requests.length).toBe(before);
    }
  });

  it('masks an e-mail address in an input_text part before it goes upstream', async () => {
    up.script({ kind: 'ok' });
    const r = await post('/v1/chat/completions', ask([{ type: 'input_text', text: 'mail ann@example.com' }]));
    expect(r.status).toBe(200);
    expect(JSON.stringify(up.requests.at(-1)?.body)).not.toContain('ann@example.com');
  });

  it('refuses a part of a type the checker does not read that carries text', async () => {
    await refused('/v1/chat/completions', ask([{ type: 'text', text: 'hi' }, { type: 'mystery', words: `charge ${CARD}` }]), 'messages.0.content.1');
  });
});

describe('JSON escapes in tool-call arguments', () => {
  const escaped = '{"to":"ann\\u0040example.com","card":"4111\\u00201111 1111 1111"}';
  const history = { model: 'guarded', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'send', arguments: escaped } }] }, { role: 'tool', tool_call_id: 'c1', content: 'sent' }] };

  it('refuses a history whose arguments spell a card number with escapes', async () => {
    const before = up.requests.length;
    const r = await post('/v1/chat/completions', history);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('guardrail_blocked');
    expect(up.requests.length).toBe(before);
  });

  it('masks an address spelled with an escape in an answer', async () => {
    up.script({ kind: 'error', status: 200, body: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt', usage, choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'send', arguments: '{"to":"ann\\u0040example.com"}' } }] }, finish_reason: 'tool_calls' }] } });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }] });
    const args = (r.body.choices as { message: { tool_calls: { function: { arguments: string } }[] } }[])[0]?.message.tool_calls[0]?.function.arguments;
    expect(JSON.parse(args ?? '{}')).toEqual({ to: '[EMAIL]' });
  });
});

describe('prompts and inputs given as token ids', () => {
  it('are refused under request rules that read the text: the gateway cannot read them', async () => {
    await refused('/v1/completions', { model: 'guarded', prompt: [[16354, 282, 23187, 2704]] }, 'prompt.0');
    await refused('/v1/embeddings', { model: 'guarded', input: [16354, 282] }, 'input');
  });
});

describe('Responses requests served natively', () => {
  const response = { id: 'resp_1', object: 'response', created_at: 1, status: 'completed', model: 'gpt', output: [{ type: 'message', id: 'm1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'ok', annotations: [] }] }], usage: { input_tokens: 5, output_tokens: 1, total_tokens: 6 } };

  it('are checked whole: tool descriptions beside a built-in tool, custom tools and their calls, reasoning items', async () => {
    const cases: Record<string, unknown>[] = [
      { input: 'hi', tools: [{ type: 'web_search' }, { type: 'function', name: 'f', description: 'project falcon lookup', parameters: { type: 'object' } }] },
      { input: 'hi', tools: [{ type: 'custom', name: 'f', description: 'project falcon lookup' }] },
      { input: [{ role: 'user', content: 'hi' }, { type: 'custom_tool_call', call_id: 'c1', name: 'f', input: `charge ${CARD}` }, { type: 'custom_tool_call_output', call_id: 'c1', output: 'done' }], tools: [{ type: 'custom', name: 'f' }] },
      { input: [{ role: 'user', content: 'hi' }, { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: `card ${CARD}` }] }, { role: 'user', content: 'go on' }] },
    ];
    for (const extra of cases) {
      const before = up.requests.length;
      const r = await post('/v1/responses', { model: 'native', ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.body.error?.code).toBe('guardrail_blocked');
      expect(up.requests.length).toBe(before);
    }
  });

  it('masked where the translation does not carry it: the translation is sent; nothing found, the request stays native', async () => {
    up.script({ kind: 'ok' });
    const masked = await post('/v1/responses', { model: 'native', input: [{ role: 'user', content: 'hi' }, { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'mail ann@example.com' }] }] });
    expect(masked.status).toBe(200);
    expect(up.requests.at(-1)?.path).toBe('/v1/chat/completions');
    expect(JSON.stringify(up.requests.at(-1)?.body)).not.toContain('ann@example.com');
    up.script({ kind: 'error', status: 200, body: response });
    const plain = await post('/v1/responses', { model: 'native', input: 'hello', tools: [{ type: 'web_search' }] });
    expect(plain.status).toBe(200);
    expect(up.requests.at(-1)?.path).toBe('/v1/responses');
  });
});

describe('OpenAI custom tools (free-text input)', () => {
  it('reads a custom tool’s description and a custom call’s input in the history: a card is refused, nothing goes upstream', async () => {
    const bodies = [
      { model: 'guarded', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'custom', custom: { name: 'pay', description: `always charge card ${CARD}` } }] },
      { model: 'guarded', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c0', type: 'custom', custom: { name: 'pay', input: `card ${CARD}` } }] }, { role: 'tool', tool_call_id: 'c0', content: 'done' }] },
    ];
    for (const body of bodies) {
      const before = up.requests.length;
      const r = await post('/v1/chat/completions', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error?.code).toBe('guardrail_blocked');
      expect(up.requests.length).toBe(before);
    }
  });

  it('masks and blocks on a custom call’s input in an answer, whole and streamed', async () => {
    const answer = (input: string) => ({ id: 'x', object: 'chat.completion', created: 1, model: 'gpt', usage, choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'send', input } }] }, finish_reason: 'tool_calls' }] });
    up.script({ kind: 'error', status: 200, body: answer('to bob@example.com') });
    const masked = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }] });
    expect(masked.status).toBe(200);
    expect(JSON.stringify(masked.body)).not.toContain('bob@');
    expect(JSON.stringify(masked.body)).toContain('to [EMAIL]');
    up.script({ kind: 'error', status: 200, body: answer('key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD') });
    const blocked = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }] });
    expect(blocked.body.error?.code).toBe('guardrail_blocked');

    const base = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'gpt' };
    const input = 'write to bob@example.com about the meeting on monday at ten';
    up.script({
      kind: 'events',
      events: [
        { ...base, choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'c1', type: 'custom', custom: { name: 'send', input: '' } }] }, finish_reason: null }] },
        ...(input.match(/.{1,5}/g) ?? []).map((piece) => ({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, custom: { input: piece } }] }, finish_reason: null }] })),
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      ],
    });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'guarded', stream: true, messages: [{ role: 'user', content: 'hi' }] }), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    expect(text).not.toContain('bob@');
    expect(text).toContain('[EMAIL]');
  });
});

describe('spoken answers on a route with response rules', () => {
  it('refuses a request that asks for audio output, naming the field; nothing goes upstream', async () => {
    await refused('/v1/chat/completions', { model: 'guarded', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' }, messages: [{ role: 'user', content: 'hi' }] }, 'modalities');
    await refused('/v1/chat/completions', { model: 'guarded', audio: { voice: 'alloy', format: 'wav' }, messages: [{ role: 'user', content: 'hi' }] }, 'audio');
  });

  it('blocks an answer whose transcript a rule flags, sent anyway: its audio cannot be masked', async () => {
    up.script({ kind: 'error', status: 200, body: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt', usage, choices: [{ index: 0, message: { role: 'assistant', content: null, audio: { id: 'a1', data: 'AAAA', expires_at: 1, transcript: 'write to bob@example.com' } }, finish_reason: 'stop' }] } });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.body.error?.code).toBe('guardrail_blocked');
    expect(JSON.stringify(r.body)).not.toContain('bob@');
  });
});

describe('request fields the checker does not know', () => {
  it('are read whole: a card in a prediction or vLLM documents is refused, nothing goes upstream', async () => {
    for (const extra of [{ prediction: { type: 'content', content: `card ${CARD}` } }, { documents: [{ title: 'd', text: `card ${CARD}` }] }, { chat_template_kwargs: { note: `card ${CARD}` } }]) {
      const before = up.requests.length;
      const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }], ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.body.error?.code).toBe('guardrail_blocked');
      expect(up.requests.length).toBe(before);
    }
  });

  it('are masked where they stand', async () => {
    up.script({ kind: 'ok' });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }], prediction: { type: 'content', content: 'mail ann@example.com' } });
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)?.body.prediction).toEqual({ type: 'content', content: 'mail [EMAIL]' });
  });
});

describe('message and content-part fields the checker does not know', () => {
  it('OpenAI dialect: a card in a message field or a part field is refused, nothing goes upstream; an address there is masked where it stands', async () => {
    for (const messages of [[{ role: 'user', content: 'hi', foo: `card ${CARD}` }], [{ role: 'user', content: [{ type: 'text', text: 'hi', foo: `card ${CARD}` }] }]]) {
      const before = up.requests.length;
      const r = await post('/v1/chat/completions', { model: 'guarded', messages });
      expect(r.status, JSON.stringify(messages)).toBe(400);
      expect(r.body.error?.code).toBe('guardrail_blocked');
      expect(up.requests.length).toBe(before);
    }
    up.script({ kind: 'ok' });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', foo: 'mail ann@example.com' }], note: 'or bob@example.org' }] });
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)?.body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi', foo: 'mail [EMAIL]' }], note: 'or [EMAIL]' }]);
  });

  it('Anthropic dialect: the translation carries no field it does not know, so none reaches the upstream unchecked', async () => {
    up.script({ kind: 'ok' });
    const r = await post('/v1/messages', {
      model: 'guarded',
      max_tokens: 16,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', foo: `card ${CARD}` }], foo: `card ${CARD}` }],
    });
    expect(r.status).toBe(200);
    expect(JSON.stringify(up.requests.at(-1)?.body)).not.toContain('4111');
  });

  it('both dialects: an address written with a full-width at-sign is masked before it goes upstream', async () => {
    up.script({ kind: 'ok' });
    expect((await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'mail ann\uff20example.com' }] })).status).toBe(200);
    expect(up.requests.at(-1)?.body.messages).toEqual([{ role: 'user', content: 'mail [EMAIL]' }]);
    up.script({ kind: 'ok' });
    expect((await post('/v1/messages', { model: 'guarded', max_tokens: 16, messages: [{ role: 'user', content: 'mail ann\ufe6bexample.com' }] })).status).toBe(200);
    expect(JSON.stringify(up.requests.at(-1)?.body)).toContain('mail [EMAIL]');
  });
});

describe('JSON escapes in tool results', () => {
  it('masks an address a tool message spells with escapes before it goes upstream', async () => {
    up.script({ kind: 'ok' });
    const r = await post('/v1/chat/completions', { model: 'guarded', messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'x', content: '{"email":"ann\\u0040example.com"}' }] });
    expect(r.status).toBe(200);
    const sent = JSON.stringify(up.requests.at(-1)?.body);
    expect(sent).not.toContain('ann');
    expect(sent).toContain('[EMAIL]');
  });
});

