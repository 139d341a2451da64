import { describe, expect, it } from 'vitest';
import type { GuardrailConfig, GuardrailRuleConfig } from '../../config/guardrail-config.js';
import type { JsonObject, StreamStep } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { Transport } from '../../upstream/transport.js';
import { RuntimeGuardrails, type RequestInfo } from './guardrail-engine.js';
import type { GuardrailDecision } from './guardrail-decision.js';
import { guardStream, MAX_CHECKED_CHARS, StreamGuard } from './guardrail-stream.js';

const info: RequestInfo = { requestId: 'r1', route: 'default/chat', model: 'chat', caller: 'anonymous', signal: new AbortController().signal };
const WINDOW = 24;

/** A transport that answers every POST with `answer` (the webhook contract), for the end-of-stream check. */
const answering = (answer: unknown): Transport => ({
  send: () =>
    Promise.resolve({
      status: 200,
      headers: {},
      body: (async function* () {
        yield new TextEncoder().encode(JSON.stringify(answer));
      })(),
      discard: () => undefined,
    }),
});

function guardFor(rules: GuardrailRuleConfig[], transport: Transport = answering({ flagged: false })): StreamGuard {
  const config: GuardrailConfig = { id: 'team-a/g', subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: ['default/chat'] }, rules, holdBackChars: WINDOW };
  const active = RuntimeGuardrails.build([config], { providers: new Map(), transport }).forRequest({ kind: 'anonymous' }, 'default/chat');
  if (active === undefined) throw new Error('policy does not apply');
  return new StreamGuard(active, info);
}

const delta = (content: string, finish: string | null = null): JsonObject => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const role: JsonObject = { id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };

/** Feeds pieces one chunk per step, then a finish chunk and the end; returns what the client sees, step by step. */
async function run(guard: StreamGuard, pieces: string[]): Promise<{ seen: string[]; text: string; error?: GatewayError; decisions: GuardrailDecision[] }> {
  const steps: StreamStep[] = [{ chunks: [role] }, ...pieces.map((p) => ({ chunks: [delta(p)] })), { chunks: [delta('', 'stop')], done: true }];
  let decisions: GuardrailDecision[] = [];
  const source = (async function* () {
    for (const s of steps.slice(1)) yield s;
  })();
  const guarded = guardStream({ first: steps.slice(0, 1), rest: source }, guard, (d) => (decisions = d));
  const seen: string[] = [];
  let error: GatewayError | undefined;
  try {
    for await (const step of guarded.rest) {
      seen.push(step.chunks.map((c) => ((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.content ?? '').join(''));
    }
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    error = err;
  }
  return { seen, text: seen.join(''), decisions, ...(error === undefined ? {} : { error }) };
}

describe('guardrail stream: held-back window', () => {
  const mask: GuardrailRuleConfig = { name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } };
  const block: GuardrailRuleConfig = { name: 'cards', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['PaymentCard'] } };

  it('masks an e-mail address split over chunks before any of it is released', async () => {
    const pieces = ['Write to ', 'ann.lee@exa', 'mple.com', ' for the', ' report, thanks a lot', ' and goodbye now.'];
    const r = await run(guardFor([mask]), pieces);
    expect(r.text).toBe('Write to [EMAIL] for the report, thanks a lot and goodbye now.');
    expect(r.seen.join('|')).not.toMatch(/ann|exa|mple/);
    expect(r.decisions).toEqual([{ policy: 'team-a/g', rule: 'mail', phase: 'Response', action: 'Mask', detector: 'builtin', findings: { Email: 1 } }]);
  });

  it('holds back at most the window: text is released as soon as more than the window has arrived', async () => {
    const pieces = Array.from({ length: 10 }, (_, i) => `word${i} abcdefgh `);
    const r = await run(guardFor([mask]), pieces);
    expect(r.text).toBe(pieces.join(''));
    // After each step everything but the last WINDOW characters has gone out.
    let fed = '';
    r.seen.slice(1, pieces.length + 1).forEach((_, i) => {
      fed += pieces[i];
      const released = r.seen.slice(0, i + 2).join('');
      expect(fed.length - released.length).toBeLessThanOrEqual(WINDOW);
    });
  });

  it('ends the stream with the guardrail error when a card number arrives mid-stream: nothing of it is released', async () => {
    const r = await run(guardFor([block]), ['Sure, the number is 4111 ', '1111 1111 ', '1111 and that is all ', 'folks, more text here.']);
    expect(r.error?.toBody().error).toMatchObject({ code: 'guardrail_blocked', type: 'invalid_request_error' });
    expect(r.error?.message).toBe('the response was blocked by guardrail policy team-a/g, rule cards: it contains PaymentCard');
    expect(r.text).not.toMatch(/4111|1111/);
    expect(r.decisions[0]).toMatchObject({ action: 'Block', findings: { PaymentCard: 1 } });
  });

  it('checks what is still held at the end (the final check)', async () => {
    const r = await run(guardFor([block]), ['card 4111111111111111']);
    expect(r.error?.code).toBe('guardrail_blocked');
    expect(r.text).toBe('');
  });

  it('runs a webhook rule on the whole answer at its end; a flag ends the stream before its finish', async () => {
    const hook: GuardrailRuleConfig = { name: 'hook', phase: 'Response', action: 'Block', detector: { kind: 'webhook', url: 'http://127.0.0.1:9/', timeoutMs: 1000, failureMode: 'Closed' } };
    const r = await run(guardFor([hook], answering({ flagged: true, reason: 'off-topic' })), ['a harmless ', 'answer']);
    expect(r.error?.message).toBe('the response was blocked by guardrail policy team-a/g, rule hook: the check service flagged it');
    expect(r.decisions[0]).toMatchObject({ rule: 'hook', action: 'Block', reason: 'off-topic' });
    const ok = await run(guardFor([hook], answering({ flagged: false })), ['a harmless ', 'answer']);
    expect(ok.error).toBeUndefined();
    expect(ok.text).toBe('a harmless answer');
  });
});

describe('stream guard: tool-call arguments', () => {
  const call = (args: string, first = false, finish: string | null = null): JsonObject => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    model: 'm',
    choices: [
      {
        index: 0,
        delta: { tool_calls: [first ? { index: 0, id: 'call_1', type: 'function', function: { name: 'send', arguments: args } } : { index: 0, function: { arguments: args } }] },
        finish_reason: finish,
      },
    ],
  });
  const finish: JsonObject = { id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] };

  async function runCalls(guard: StreamGuard, pieces: string[]): Promise<{ args: string; name?: string; chunks: JsonObject[]; error?: GatewayError }> {
    const steps: StreamStep[] = [{ chunks: [role] }, ...pieces.map((p, i) => ({ chunks: [call(p, i === 0)] })), { chunks: [finish], done: true }];
    const guarded = guardStream({ first: [], rest: (async function* () { yield* steps; })() }, guard, () => undefined);
    const chunks: JsonObject[] = [];
    let error: GatewayError | undefined;
    try {
      for await (const step of guarded.rest) chunks.push(...step.chunks);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      error = err;
    }
    let args = '';
    let name: string | undefined;
    for (const c of chunks) {
      for (const tc of ((((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.tool_calls ?? []) as JsonObject[])) {
        const fn = tc.function as { name?: string; arguments?: string };
        args += fn.arguments ?? '';
        name ??= fn.name;
      }
    }
    return { args, chunks, ...(name === undefined ? {} : { name }), ...(error === undefined ? {} : { error }) };
  }

  it('masks an e-mail address split across argument fragments; the call keeps its id and name, JSON stays valid, the finish comes last', async () => {
    const mask = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const r = await runCalls(mask, ['{"to":"ann@exa', 'mple.com","body":"hello there, see you on mon', 'day at ten"}']);
    expect(r.args).toBe('{"to":"[EMAIL]","body":"hello there, see you on monday at ten"}');
    expect(JSON.parse(r.args)).toEqual({ to: '[EMAIL]', body: 'hello there, see you on monday at ten' });
    expect(r.name).toBe('send');
    expect(JSON.stringify(r.chunks)).not.toContain('ann@');
    expect((r.chunks.at(-1)?.choices as JsonObject[])[0]?.finish_reason).toBe('tool_calls');
  });

  it('ends the stream with the refusal when arguments carry what a Block rule finds, before any of it is released', async () => {
    const block = guardFor([{ name: 'no-cards', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['PaymentCard'] } }]);
    const r = await runCalls(block, ['{"card":"4111 1111', ' 1111 1111"}']);
    expect(r.error?.code).toBe('guardrail_blocked');
    expect(r.error?.message).toContain('rule no-cards');
    expect(r.args).not.toContain('4111');
  });

  it('masks an address spelled with JSON escapes, however the fragments and the window cut them', async () => {
    const escaped = '{"to":"ann\\u0040example.com","body":"a body long enough to push the address past the window"}';
    for (let size = 1; size <= 14; size++) {
      const mask = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
      const r = await runCalls(mask, escaped.match(new RegExp(`[^]{1,${size}}`, 'g')) ?? []);
      expect(JSON.parse(r.args), `fragments of ${size}`).toEqual({ to: '[EMAIL]', body: 'a body long enough to push the address past the window' });
    }
  });

  it('holds back the window in decoded characters: a phrase every letter of which is escaped is seen whole', async () => {
    const phrase = [...'project falcon'].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    const block = guardFor([{ name: 'falcon', phase: 'Response', action: 'Block', detector: { kind: 'denyList', phrases: ['project falcon'] } }]);
    const r = await runCalls(block, `{"subject":"${phrase} and more text after it"}`.match(/[^]{1,5}/g) ?? []);
    expect(r.error?.code).toBe('guardrail_blocked');
    expect(r.args).not.toContain('\\u0070');
  });

  it('sends the arguments to remote rules at the end, as tool_call texts', async () => {
    const asked: string[] = [];
    const transport: Transport = {
      send: (req) => {
        asked.push(String(req.body));
        return answering({ flagged: false }).send(req, { signal: new AbortController().signal, connectTimeoutMs: 1000 });
      },
    };
    const hook = guardFor([{ name: 'hook', phase: 'Response', action: 'Block', detector: { kind: 'webhook', url: 'http://127.0.0.1:9/', timeoutMs: 1000, failureMode: 'Closed' } }], transport);
    await runCalls(hook, ['{"q":', '"weather"}']);
    expect(JSON.parse(asked[0] ?? '{}')).toMatchObject({ texts: [{ role: 'assistant', text: '' }, { role: 'tool_call', text: '{"q":"weather"}' }] });
  });
});

describe('what a stream guard keeps per choice', () => {
  // Finished choices stayed in the guard (an empty held text each), and each choice's tool calls
  // were found by scanning every held key: quadratic in the choices a stream names.
  it('keeps nothing of a finished choice, its tool calls included', async () => {
    const guard = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const choices = Array.from({ length: 100 }, (_, index) => ({
      index,
      delta: { content: `answer ${index}`, tool_calls: [{ index: 0, id: `c${index}`, function: { name: 'f', arguments: '{"to":"a@example.com"}' } }] },
      finish_reason: 'stop',
    }));
    const out = await guard.step({ chunks: [{ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices }] });
    const state = guard as unknown as { held: Map<string, string>; calls: Map<number, Set<number>> };
    expect(state.held.size).toBe(0);
    expect(state.calls.size).toBe(0);
    const args = out.chunks.flatMap((c) => (c.choices as JsonObject[]).flatMap((ch) => ((ch.delta as JsonObject).tool_calls as JsonObject[] | undefined) ?? [])).map((t) => (t.function as JsonObject).arguments).join('');
    expect(args).not.toContain('a@example.com');
    expect((await guard.step({ chunks: [], done: true })).chunks).toEqual([]);
  });
});

describe('an answer longer than a check is sent', () => {
  const hookRule = (failureMode: 'Open' | 'Closed'): GuardrailRuleConfig => ({ name: 'hook', phase: 'Response', action: 'Block', detector: { kind: 'webhook', url: 'http://127.0.0.1:9/', timeoutMs: 1000, failureMode } });
  const pieces = Array.from({ length: 17 }, () => 'x'.repeat(1024 * 1024));
  const asking = (): { transport: Transport; asked: number[] } => {
    const asked: number[] = [];
    return {
      asked,
      transport: {
        send: (req) => {
          asked.push(String(req.body).length);
          return answering({ flagged: false }).send(req, { signal: new AbortController().signal, connectTimeoutMs: 1000 });
        },
      },
    };
  };

  it(`is not kept past ${MAX_CHECKED_CHARS} characters: the check fails, and failureMode Closed blocks`, async () => {
    const { transport, asked } = asking();
    const guard = guardFor([hookRule('Closed')], transport);
    const r = await run(guard, pieces);
    expect(asked).toEqual([]);
    expect(r.error?.code).toBe('guardrail_unavailable');
    expect((guard as unknown as { answer: Map<string, string> }).answer.size).toBe(0);
  });

  it('with failureMode Open the stream goes on, the failure recorded', async () => {
    const { transport, asked } = asking();
    const r = await run(guardFor([hookRule('Open')], transport), pieces);
    expect(asked).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.text.length).toBe(17 * 1024 * 1024);
    expect(r.decisions.some((d) => d.action === 'Allow' && d.error?.includes('more than a check is sent') === true)).toBe(true);
  });
});

describe('stream guard: logprobs', () => {
  it("never releases a chunk's logprobs: they would carry text the window still holds", async () => {
    const guard = guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
    const withLogprobs = (content: string): JsonObject => ({ ...delta(content), choices: [{ index: 0, delta: { content }, logprobs: { content: [{ token: content, logprob: -0.1 }] }, finish_reason: null }] });
    const out = await guard.step({ chunks: [withLogprobs('a preamble long enough to pass the window, '), withLogprobs('then the key sk-proj-abc')] });
    const released = out.chunks.flatMap((c) => c.choices as JsonObject[]);
    expect(released.length).toBeGreaterThan(0);
    for (const c of released) expect(c.logprobs ?? null).toBeNull();
    expect(JSON.stringify(out.chunks)).not.toContain('sk-proj');
  });
});

describe('stream guard: legacy function_call', () => {
  const fnCall = (args: string, name?: string): JsonObject => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    model: 'm',
    choices: [{ index: 0, delta: { function_call: name === undefined ? { arguments: args } : { name, arguments: args } }, finish_reason: null }],
  });
  const finish: JsonObject = { id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'function_call' }] };
  const argsOf = (chunks: JsonObject[]): string =>
    chunks.map((c) => (((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.function_call as JsonObject | undefined)?.arguments ?? '').join('');

  it('holds back and masks its arguments as a tool call, released before the finish; the name goes out at once', async () => {
    const guard = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const first = await guard.step({ chunks: [fnCall('', 'send'), fnCall('{"to":"ann@exa'), fnCall('mple.com","body":"hi"}')] });
    expect(JSON.stringify(first.chunks)).not.toContain('ann@');
    expect((((first.chunks[0]?.choices as JsonObject[])[0]?.delta as JsonObject).function_call as JsonObject).name).toBe('send');
    const last = await guard.step({ chunks: [finish], done: true });
    const chunks = [...first.chunks, ...last.chunks];
    expect(argsOf(chunks)).toBe('{"to":"[EMAIL]","body":"hi"}');
    expect((chunks.at(-1)?.choices as JsonObject[])[0]?.finish_reason).toBe('function_call');
  });

  it('ends the stream when its arguments carry what a Block rule finds', async () => {
    const guard = guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
    const out = await guard.step({ chunks: [fnCall('{"key":"sk-proj-abcd', 'send')] });
    expect(JSON.stringify(out.chunks)).not.toContain('sk-proj');
    await expect(guard.step({ chunks: [fnCall('efghijklmnopqrstuvwxyz0123456789ABCD"}'), finish], done: true })).rejects.toMatchObject({ code: 'guardrail_blocked' });
  });
});

describe('stream guard: refusal and reasoning deltas', () => {
  const side = (field: string, text: string, finish: string | null = null): JsonObject => ({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { [field]: text }, finish_reason: finish }] });
  const fieldOf = (chunks: JsonObject[], field: string): string => chunks.map((c) => String((((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.[field] as string | undefined) ?? '')).join('');

  it('holds back and masks reasoning_content as the content, released before the finish', async () => {
    const guard = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const first = await guard.step({ chunks: [side('reasoning_content', 'the user is ann@exa'), side('reasoning_content', 'mple.com and wants a short answer, so')] });
    expect(JSON.stringify(first.chunks)).not.toContain('ann@');
    const last = await guard.step({ chunks: [delta('Hi', 'stop')], done: true });
    expect(fieldOf([...first.chunks, ...last.chunks], 'reasoning_content')).toBe('the user is [EMAIL] and wants a short answer, so');
  });

  it('ends the stream when a reasoning or refusal delta carries what a Block rule finds', async () => {
    for (const field of ['reasoning', 'refusal']) {
      const guard = guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
      const out = await guard.step({ chunks: [side(field, 'key sk-proj-abcdefghijkl')] });
      expect(JSON.stringify(out.chunks)).not.toContain('sk-proj');
      await expect(guard.step({ chunks: [side(field, 'mnopqrstuvwxyz0123456789ABCD', 'stop')], done: true })).rejects.toMatchObject({ code: 'guardrail_blocked' });
    }
  });
});

describe('stream guard: custom tool calls', () => {
  const custom = (input: string, first = false): JsonObject => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    model: 'm',
    choices: [{ index: 0, delta: { tool_calls: [first ? { index: 0, id: 'call_1', type: 'custom', custom: { name: 'send', input } } : { index: 0, custom: { input } }] }, finish_reason: null }],
  });
  const finish: JsonObject = { id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] };
  const inputOf = (chunks: JsonObject[]): string =>
    chunks
      .flatMap((c) => ((((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.tool_calls ?? []) as JsonObject[]))
      .map((tc) => String((tc.custom as JsonObject | undefined)?.input ?? ''))
      .join('');

  it('holds back and masks a custom call’s input as a call’s arguments, released before the finish; the name goes out at once', async () => {
    const guard = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const first = await guard.step({ chunks: [custom('', true), custom('write to ann@exa'), custom('mple.com about the meeting on monday')] });
    expect(JSON.stringify(first.chunks)).not.toContain('ann@');
    expect(JSON.stringify(first.chunks)).toContain('"name":"send"');
    const last = await guard.step({ chunks: [finish], done: true });
    const chunks = [...first.chunks, ...last.chunks];
    expect(inputOf(chunks)).toBe('write to [EMAIL] about the meeting on monday');
    expect((chunks.at(-1)?.choices as JsonObject[])[0]?.finish_reason).toBe('tool_calls');
  });

  it('ends the stream when a custom call’s input carries what a Block rule finds', async () => {
    const guard = guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
    const out = await guard.step({ chunks: [custom('key sk-proj-abcd', true)] });
    expect(JSON.stringify(out.chunks)).not.toContain('sk-proj');
    await expect(guard.step({ chunks: [custom('efghijklmnopqrstuvwxyz0123456789ABCD'), finish], done: true })).rejects.toMatchObject({ code: 'guardrail_blocked' });
  });
});

describe('stream guard: findings', () => {
  // A pattern's name is a tenant's: merged on a plain object, `constructor` read Object.prototype's.
  it('counts findings of a pattern named like an Object.prototype member as numbers, across the windows checked', async () => {
    const guard = guardFor([{ name: 'ids', phase: 'Response', action: 'Monitor', detector: { kind: 'patterns', patterns: [{ name: 'constructor', pattern: 'EMP-[0-9]{6}' }] } }]);
    await guard.step({ chunks: [delta(`EMP-123456 ${'words '.repeat(30)}`)] });
    await guard.step({ chunks: [delta(`EMP-654321 ${'words '.repeat(30)}`, 'stop')], done: true });
    expect(guard.recorded.map((d) => d.findings)).toEqual([{ constructor: 2 }]);
  });
});

describe('stream guard: spoken answers', () => {
  it('never releases a delta’s audio (its data nor its transcript): it cannot be held back or masked', async () => {
    const guard = guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
    const audio = (transcript: string, finish: string | null = null): JsonObject => ({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { audio: { id: 'a1', data: 'AAAA', transcript } }, finish_reason: finish }] });
    const out = await guard.step({ chunks: [audio('write to bob@example.com'), audio('', 'stop')], done: true });
    expect(JSON.stringify(out.chunks)).not.toContain('bob@');
    expect(JSON.stringify(out.chunks)).not.toContain('audio');
    expect(out.chunks.flatMap((c) => c.choices as JsonObject[]).at(-1)?.finish_reason).toBe('stop');
  });
});

describe('stream guard: fields the gateway does not know', () => {
  const mask = (): StreamGuard => guardFor([{ name: 'mail', phase: 'Response', action: 'Mask', detector: { kind: 'builtin', names: ['Email'] } }]);
  const block = (): StreamGuard => guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
  const KEY = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
  const chunk = (choice: JsonObject, top: JsonObject = {}): JsonObject => ({ id: 'c1', object: 'chat.completion.chunk', model: 'm', ...top, choices: [{ index: 0, finish_reason: null, ...choice }] });

  it('holds back and masks an unknown string field of a delta as the content, released before the finish', async () => {
    const guard = mask();
    const first = await guard.step({ chunks: [chunk({ delta: { thoughts: 'write to ann@exa' } }), chunk({ delta: { thoughts: 'mple.com about the meeting on monday' } })] });
    expect(JSON.stringify(first.chunks)).not.toContain('ann@');
    const last = await guard.step({ chunks: [delta('ok', 'stop')], done: true });
    const released = [...first.chunks, ...last.chunks].map((c) => String(((c.choices as JsonObject[])[0]?.delta as JsonObject | undefined)?.thoughts ?? '')).join('');
    expect(released).toBe('write to [EMAIL] about the meeting on monday');
  });

  it('masks unknown fields of a chunk, a choice, a delta’s objects and a tool call where they stand', async () => {
    const guard = mask();
    const out = await guard.step({
      chunks: [
        chunk({ delta: { content: 'hi', citations: [{ title: 'mail ann@example.com', url: 'https://example.com/a' }] } }, { note: 'from bob@example.com' }),
        chunk({ delta: {}, explanation: 'to carl@example.com' }),
        chunk({ delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'send', arguments: '{}' }, comment: 'dan@example.com' }] } }),
        delta('', 'stop'),
      ],
      done: true,
    });
    const text = JSON.stringify(out.chunks);
    for (const who of ['ann@', 'bob@', 'carl@', 'dan@']) expect(text).not.toContain(who);
    expect(text).toContain('"note":"from [EMAIL]"');
    expect(text).toContain('"url":"https://example.com/a"');
    expect(guard.maskedBy).toEqual(['team-a/g']);
  });

  it('ends the stream when an unknown field carries what a Block rule finds, before it is released', async () => {
    for (const c of [chunk({ delta: { extra: { text: `key ${KEY}` } } }), chunk({ delta: {} }, { debug: KEY }), chunk({ delta: {}, trace: [KEY] })]) {
      await expect(block().step({ chunks: [c] })).rejects.toMatchObject({ code: 'guardrail_blocked' });
    }
    const guard = block();
    const out = await guard.step({ chunks: [chunk({ delta: { thoughts: `key ${KEY.slice(0, 16)}` } })] });
    expect(JSON.stringify(out.chunks)).not.toContain('sk-proj');
    await expect(guard.step({ chunks: [chunk({ delta: { thoughts: KEY.slice(16) } }), delta('', 'stop')], done: true })).rejects.toMatchObject({ code: 'guardrail_blocked' });
  });

  // Before, a nested unknown field (OpenRouter's reasoning_details[].text) was checked chunk by
  // chunk: a match split across two chunks was seen whole in neither.
  const detail = (text: string): JsonObject => chunk({ delta: { reasoning_details: [{ type: 'reasoning.text', text, format: 'unknown', index: 0 }] } });
  const detailText = (c: JsonObject): string => String((((c.choices as JsonObject[])[0]?.delta as JsonObject).reasoning_details as JsonObject[])[0]?.text);

  it('finds a match split across chunks in a nested unknown field: the part in the later chunk is masked', async () => {
    const guard = mask();
    const first = await guard.step({ chunks: [detail('write to ann@exa')] });
    const second = await guard.step({ chunks: [detail('mple.com about it')] });
    expect(detailText(second.chunks[0]!)).toBe('[EMAIL] about it');
    expect(guard.recorded).toMatchObject([{ action: 'Mask', findings: { Email: 1 } }]);
    // A value that only repeats the last chunk's (a format, a citation list sent again) is not a fragment.
    expect(detailText(first.chunks[0]!)).toBe('write to ann@exa');
    const again = await guard.step({ chunks: [chunk({ delta: {} }, { note: 'mail ann@example.com' }), chunk({ delta: {} }, { note: 'mail ann@example.com' })] });
    expect(again.chunks.map((c) => c.note)).toEqual(['mail [EMAIL]', 'mail [EMAIL]']);
  });

  it('ends the stream when a Block match arrives split across chunks of an unknown field, before its last part goes out', async () => {
    const guard = block();
    await guard.step({ chunks: [detail(`key ${KEY.slice(0, 20)}`)] });
    await expect(guard.step({ chunks: [detail(KEY.slice(20))] })).rejects.toMatchObject({ code: 'guardrail_blocked' });
    const top = block();
    await top.step({ chunks: [chunk({ delta: {} }, { debug: KEY.slice(0, 10) })] });
    await expect(top.step({ chunks: [chunk({ delta: {} }, { debug: KEY.slice(10) })] })).rejects.toMatchObject({ code: 'guardrail_blocked' });
  });

  it('carries at most the window of at most 32 fields a stream: memory is bounded whatever the upstream sends', async () => {
    const guard = mask();
    for (let i = 0; i < 200; i++) await guard.step({ chunks: [chunk({ delta: {} }, { [`f${i}`]: 'x'.repeat(1000) })] });
    const state = guard as unknown as { tails: Map<string, { tail: string }> | undefined };
    expect(state.tails?.size).toBe(32);
    for (const { tail } of state.tails?.values() ?? []) expect(tail.length).toBeLessThanOrEqual(WINDOW);
  });

  it('sends a field split across chunks to remote rules as one text', async () => {
    const seen: string[] = [];
    const transport: Transport = {
      send: (req, opts) => {
        seen.push(req.body);
        return answering({ flagged: false }).send(req, opts);
      },
    };
    const guard = guardFor([{ name: 'hook', phase: 'Response', action: 'Block', detector: { kind: 'webhook', url: 'http://127.0.0.1:9/', timeoutMs: 1000, failureMode: 'Closed' } }], transport);
    await guard.step({ chunks: [detail('write to ann@exa'), detail('mple.com'), delta('ok', 'stop')], done: true });
    expect(seen.join('')).toContain('write to ann@example.com');
  });

  it('leaves ids, signatures, OpenAI’s obfuscation padding and Azure’s filter results alone', async () => {
    const guard = mask();
    const c = chunk({ delta: { content: 'hi', thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'ann@example.com' }] }, content_filter_results: { hate: { filtered: false, severity: 'safe' } } }, { obfuscation: 'ann@example.com', system_fingerprint: 'fp' });
    const out = await guard.step({ chunks: [c, delta('', 'stop')], done: true });
    expect(JSON.stringify(out.chunks).match(/ann@example\.com/g)).toHaveLength(2);
    expect(guard.maskedBy).toEqual([]);
  });
});

describe('stream guard: a delta whose content is not a string', () => {
  it('reads its strings with the field’s tail from the chunks before: a key split across chunks is blocked before its last part goes out', async () => {
    const guard = guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]);
    const KEY = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
    const part = (text: string): JsonObject => ({ id: 'c1', object: 'chat.completion.chunk', model: 'm', choices: [{ index: 0, delta: { content: [{ type: 'text', text }] }, finish_reason: null }] });
    await expect(guardFor([{ name: 'no-keys', phase: 'Response', action: 'Block', detector: { kind: 'builtin', names: ['Credential'] } }]).step({ chunks: [part(`key ${KEY}`)] })).rejects.toMatchObject({ code: 'guardrail_blocked' });
    await guard.step({ chunks: [part(`key ${KEY.slice(0, 20)}`)] });
    await expect(guard.step({ chunks: [part(KEY.slice(20))] })).rejects.toMatchObject({ code: 'guardrail_blocked' });
  });
});
