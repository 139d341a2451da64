import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { azureEmulatorProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// Guardrails on tool-call arguments (issue 17): the arguments a model sends (answers and streams)
// and the ones a client sends back in its history, through the gateway with the official clients.
// The upstream is the Azure OpenAI emulator, which streams a call's arguments in fragments.

let up: Emulator;
let gateway: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;
const ARGS = { to: 'ann@example.com', subject: 'the quarterly report is ready for review' };

beforeAll(async () => {
  up = await startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21');
  gateway = await startTestGateway({
    'all.yaml': `${azureEmulatorProvider(up.url)}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: tools }
spec:
  model: tools
  targets: [{ providerRef: { name: azure }, model: gpt-4o }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: tools }
spec:
  subjects: { routes: [{ name: tools }] }
  streaming: { holdBackChars: 32 }
  rules:
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
    - { name: mask-mail-out, phase: Response, action: Mask, detector: { builtin: [Email] } }
`,
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await up?.close();
});

const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: { to: { type: 'string' } } } } }];

describe('guardrails on tool-call arguments', () => {
  it('masks what a Response rule finds in the arguments of a complete answer (OpenAI client)', async () => {
    up.script({ kind: 'tool', name: 'send_mail', args: ARGS });
    const res = await openai.chat.completions.create({ model: 'tools', tools, messages: [{ role: 'user', content: 'mail it' }] });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : undefined).toEqual({ ...ARGS, to: '[EMAIL]' });
  });

  it('masks the arguments of a streamed call before they are released (OpenAI client)', async () => {
    up.script({ kind: 'tool', name: 'send_mail', args: ARGS });
    const stream = await openai.chat.completions.create({ model: 'tools', tools, stream: true, messages: [{ role: 'user', content: 'mail it' }] });
    let args = '';
    let name = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        args += tc.function?.arguments ?? '';
        name += tc.function?.name ?? '';
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('send_mail');
    expect(JSON.parse(args)).toEqual({ ...ARGS, to: '[EMAIL]' });
    expect(finish).toBe('tool_calls');
  });

  it('masks the input of a streamed tool_use for an Anthropic client', async () => {
    up.script({ kind: 'tool', name: 'send_mail', args: ARGS });
    const stream = anthropic.messages.stream({
      model: 'tools',
      max_tokens: 100,
      tools: [{ name: 'send_mail', input_schema: { type: 'object', properties: { to: { type: 'string' } } } }],
      messages: [{ role: 'user', content: 'mail it' }],
    });
    const message = await stream.finalMessage();
    const use = message.content.find((b) => b.type === 'tool_use');
    expect(use?.type === 'tool_use' ? use.input : undefined).toEqual({ ...ARGS, to: '[EMAIL]' });
  });

  it('blocks a request whose history carries a card number in tool-call arguments; nothing goes upstream', async () => {
    const before = up.requests.length;
    const err = await openai.chat.completions
      .create({
        model: 'tools',
        tools,
        messages: [
          { role: 'user', content: 'pay it' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay', arguments: '{"card":"4111 1111 1111 1111"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'done' },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain('rule no-cards: it contains PaymentCard');
    expect(up.requests.length).toBe(before);
  });
});
