import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import { startGeminiEmulator } from '../emulators/gemini.js';
import { type Emulator, sse, startEmulator } from '../emulators/emulator-server.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// The official Anthropic SDK against the gateway's POST /v1/messages, routed to an OpenAI-wire
// upstream and to an Anthropic upstream.

const ROUTES = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-openai }
spec:
  model: via-openai
  targets: [{ providerRef: { name: openai-up }, model: gpt-4o-mini }]
  retry: { attempts: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-anthropic }
spec:
  model: via-anthropic
  targets: [{ providerRef: { name: claude }, model: claude-sonnet-4-5 }]
  retry: { attempts: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-bedrock }
spec:
  model: via-bedrock
  targets: [{ providerRef: { name: bedrock }, model: "anthropic.claude-3-5-haiku-20241022-v1:0" }]
  retry: { attempts: 1 }
`;

const AWS = { accessKeyId: 'AKIDINBOUND', secretAccessKey: 'inbound/secret' };

/** A vLLM-style OpenAI server that ended on the request's last stop sequence and says so in `stop_reason`. */
function startVllmLike(): Promise<Emulator> {
  return startEmulator((req, _b, res) => {
    const stops = (req.body.stop as string[] | undefined) ?? [];
    const stop = stops[stops.length - 1] ?? null;
    const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
    if (req.body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) => sse(undefined, { id: 'cmpl-v', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice], ...extra });
      res.end(
        chunk({ index: 0, delta: { role: 'assistant', content: 'one two' }, finish_reason: null }) +
          chunk({ index: 0, delta: {}, finish_reason: 'stop', stop_reason: stop }) +
          sse(undefined, { id: 'cmpl-v', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage }) +
          'data: [DONE]\n\n',
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'cmpl-v', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'one two' }, finish_reason: 'stop', stop_reason: stop }], usage }));
  });
}

describe('inbound Anthropic Messages API', () => {
  let upstream: OpenAiUpstream;
  let claude: Emulator;
  let bedrock: Emulator;
  let vllm: Emulator;
  let gemini: Emulator;
  let gateway: TestGateway;
  let client: Anthropic;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream();
    claude = await startAnthropicEmulator('sk-ant-test');
    bedrock = await startBedrockEmulator(AWS, 'us-west-2');
    vllm = await startVllmLike();
    gemini = await startGeminiEmulator('gemini-inbound');
    gateway = await startTestGateway({
      'providers.yaml': `${openAiProvider('openai-up', upstream.baseUrl)}---
${openAiProvider('vllm-like', vllm.url)}---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: claude }
spec:
  type: anthropic
  url: ${claude.url}
  credentials: { secretRef: { name: claude-key, key: apiKey } }
  allowedRoutes: { namespaces: { from: All } }
---
apiVersion: v1
kind: Secret
metadata: { name: claude-key }
stringData: { apiKey: sk-ant-test }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: bedrock }
spec:
  type: bedrock
  url: ${bedrock.url}
  credentials: { aws: { secretName: aws } }
  bedrock: { region: us-west-2 }
---
apiVersion: v1
kind: Secret
metadata: { name: aws }
stringData: { AWS_ACCESS_KEY_ID: ${AWS.accessKeyId}, AWS_SECRET_ACCESS_KEY: ${AWS.secretAccessKey} }
---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: gemini }
spec:
  type: gemini
  url: ${gemini.url}
  credentials: { secretRef: { name: gemini-key, key: apiKey } }
---
apiVersion: v1
kind: Secret
metadata: { name: gemini-key }
stringData: { apiKey: gemini-inbound }
`,
      'routes.yaml': `${ROUTES}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-gemini }
spec:
  model: via-gemini
  targets: [{ providerRef: { name: gemini }, model: gemini-2.5-flash }]
  retry: { attempts: 1 }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: via-vllm }
spec:
  model: via-vllm
  targets: [{ providerRef: { name: vllm-like }, model: m }]
  retry: { attempts: 1 }
---
# A namespace that requires approved providers; claude is not labelled approved.
apiVersion: v1
kind: Namespace
metadata: { name: regulated, labels: { require.tollgate.dev/approved: "true" } }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: regulated-claude, namespace: regulated }
spec:
  model: regulated-claude
  targets: [{ providerRef: { name: claude, namespace: default }, model: claude-sonnet-4-5 }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: guarded-claude }
spec:
  model: guarded-claude
  targets: [{ providerRef: { name: claude }, model: claude-sonnet-4-5 }]
---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: mask-mail }
spec:
  subjects: { routes: [{ name: guarded-claude }] }
  rules: [{ name: mail, phase: Request, action: Mask, detector: { builtin: [Email] } }]
`,
    });
    client = new Anthropic({ apiKey: 'client-key', baseURL: gateway.url, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await claude?.close();
    await bedrock?.close();
    await vllm?.close();
    await gemini?.close();
  });

  it('non-streaming, routed to an OpenAI-wire upstream', async () => {
    upstream.script({ kind: 'ok', content: 'hi from openai', usage: { prompt: 12, completion: 3, cached: 2 } });
    const msg = await client.messages.create({
      model: 'via-openai',
      max_tokens: 64,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(msg.type).toBe('message');
    expect(msg.content).toEqual([{ type: 'text', text: 'hi from openai' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 2 });
    const sent = upstream.requests[upstream.requests.length - 1]?.body;
    expect(sent?.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]);
    expect(sent?.max_tokens).toBe(64);
  });

  it('streaming with messages.stream, routed to an OpenAI-wire upstream', async () => {
    upstream.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'tok' });
    const stream = client.messages.stream({ model: 'via-openai', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const announced: number[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'message_start') announced.push(event.message.usage.input_tokens);
      if (event.type === 'message_delta') announced.push(event.usage.input_tokens ?? -1);
    });
    const final = await stream.finalMessage();
    expect(deltas.join('')).toBe('tok tok tok');
    expect(final.content).toEqual([{ type: 'text', text: 'tok tok tok' }]);
    expect(final.stop_reason).toBe('end_turn');
    // message_start: the gateway's estimate (the upstream counts at the end; it said 0 before);
    // message_delta: the upstream's count, which finalMessage() reports.
    const [start, end] = announced;
    expect(start).toBeGreaterThan(0);
    expect(end).toBe(7);
    expect(start).not.toBe(end);
    expect(final.usage).toMatchObject({ input_tokens: 7, output_tokens: 3, cache_read_input_tokens: 0 });
  });

  it('an OpenAI-wire upstream that ignores include_usage: message_delta and the record carry the estimate (prompt and streamed text), never 0, marked missing', async () => {
    upstream.script({ kind: 'stream', chunks: 4, intervalMs: 0, omitUsage: true, content: 'abcdefg' });
    const before = gateway.usage.records.length;
    const stream = client.messages.stream({ model: 'via-openai', max_tokens: 64, messages: [{ role: 'user', content: 'Hello there' }] });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'abcdefg abcdefg abcdefg abcdefg' }]);
    // 31 bytes streamed: 8 tokens estimated; the prompt's estimate, not 0.
    expect(final.usage.output_tokens).toBe(8);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    for (let i = 0; i < 50 && gateway.usage.records.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    const record = gateway.usage.records[before];
    expect(record).toMatchObject({ estimated: true, estimateReason: 'missing', outputTokens: 8 });
    expect(record?.inputTokens).toBeGreaterThan(0);
  });

  it('tool use round trip through an Anthropic upstream', async () => {
    claude.script({ kind: 'tool', name: 'get_weather', args: { city: 'Rome' } }, { kind: 'text', text: 'Sunny in Rome.' });
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const first = await client.messages.create({ model: 'via-anthropic', max_tokens: 100, tools, messages: [{ role: 'user', content: 'Weather in Rome?' }] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Rome' } });
    if (use?.type !== 'tool_use') throw new Error('no tool_use');
    const second = await client.messages.create({
      model: 'via-anthropic',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Rome?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny' }] },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'Sunny in Rome.' }]);
    expect(claude.problems).toEqual([]);
  });

  it('streaming through an Anthropic upstream, tool input assembled', async () => {
    claude.script({ kind: 'tool', name: 'get_weather', args: { city: 'Oslo' } });
    const stream = client.messages.stream({
      model: 'via-anthropic',
      max_tokens: 100,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Oslo' } },
    ]);
    // The emulator's own numbers: 10 uncached, 5 written to the cache, 5 read from it.
    expect(final.usage).toMatchObject({ input_tokens: 10, output_tokens: 8, cache_read_input_tokens: 5, cache_creation_input_tokens: 5 });
    expect(claude.problems).toEqual([]);
  });

  it('stop_sequence: an Anthropic upstream names the stop sequence that matched (JSON and stream); cache writes stay apart', async () => {
    claude.script({ kind: 'text', text: 'One, two', stop: 'three' });
    const msg = await client.messages.create({ model: 'via-anthropic', max_tokens: 50, stop_sequences: ['END', 'three'], messages: [{ role: 'user', content: 'Count' }] });
    expect(msg.stop_reason).toBe('stop_sequence');
    expect(msg.stop_sequence).toBe('three');
    expect(msg.usage).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5, output_tokens: 8 });
    expect(claude.requests[claude.requests.length - 1]?.body.stop_sequences).toEqual(['END', 'three']);

    claude.script({ kind: 'text', text: 'One, two', stop: 'three' });
    const final = await client.messages.stream({ model: 'via-anthropic', max_tokens: 50, stop_sequences: ['three'], messages: [{ role: 'user', content: 'Count' }] }).finalMessage();
    expect(final.stop_reason).toBe('stop_sequence');
    expect(final.stop_sequence).toBe('three');
    expect(final.content).toEqual([{ type: 'text', text: 'One, two' }]);

    claude.script({ kind: 'text', text: 'All done' });
    const natural = await client.messages.create({ model: 'via-anthropic', max_tokens: 50, stop_sequences: ['three'], messages: [{ role: 'user', content: 'Count' }] });
    expect(natural.stop_reason).toBe('end_turn');
    expect(natural.stop_sequence).toBeNull();
    expect(claude.problems).toEqual([]);
  });

  it('stop_sequence through Bedrock: known with one stop sequence, end_turn when Converse cannot say which of several', async () => {
    bedrock.script({ kind: 'text', text: 'Counting', stop: 'END' });
    const one = await client.messages.create({ model: 'via-bedrock', max_tokens: 50, stop_sequences: ['END'], messages: [{ role: 'user', content: 'Count' }] });
    expect(one).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    expect(one.usage).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5, output_tokens: 8 });

    bedrock.script({ kind: 'text', text: 'Counting', stop: 'END' });
    const streamed = await client.messages.stream({ model: 'via-bedrock', max_tokens: 50, stop_sequences: ['END'], messages: [{ role: 'user', content: 'Count' }] }).finalMessage();
    expect(streamed).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    expect(streamed.usage).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5 });

    bedrock.script({ kind: 'text', text: 'Counting', stop: 'STOP' });
    const several = await client.messages.create({ model: 'via-bedrock', max_tokens: 50, stop_sequences: ['END', 'STOP'], messages: [{ role: 'user', content: 'Count' }] });
    expect(several).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
    expect(bedrock.problems).toEqual([]);
  });

  it("stop_sequence through a vLLM-style OpenAI server: its choice's stop_reason names the sequence (JSON and stream)", async () => {
    const msg = await client.messages.create({ model: 'via-vllm', max_tokens: 20, stop_sequences: ['three', 'four'], messages: [{ role: 'user', content: 'Count' }] });
    expect(msg).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'four', content: [{ type: 'text', text: 'one two' }] });
    expect(vllm.requests[vllm.requests.length - 1]?.body.stop).toEqual(['three', 'four']);
    const final = await client.messages.stream({ model: 'via-vllm', max_tokens: 20, stop_sequences: ['three'], messages: [{ role: 'user', content: 'Count' }] }).finalMessage();
    expect(final).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'three' });
    // Without stop sequences in the request nothing can have matched.
    const plain = await client.messages.create({ model: 'via-vllm', max_tokens: 20, messages: [{ role: 'user', content: 'Count' }] });
    expect(plain).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
  });

  it('a forced tool_choice reaches the Anthropic upstream and comes back as tool_use', async () => {
    claude.script({ kind: 'tool', name: 'record', args: { a: 1 } });
    const msg = await client.messages.create({
      model: 'via-anthropic',
      max_tokens: 50,
      tools: [{ name: 'record', input_schema: { type: 'object', properties: { a: { type: 'number' } } } }],
      tool_choice: { type: 'tool', name: 'record' },
      messages: [{ role: 'user', content: 'Record it' }],
    });
    expect(msg.content).toContainEqual({ type: 'tool_use', id: 'toolu_01', name: 'record', input: { a: 1 } });
    expect(claude.requests[claude.requests.length - 1]?.body.tool_choice).toEqual({ type: 'tool', name: 'record' });
  });

  // What Claude Code sends: cached system prompt and tools, extended thinking, a beta, a screenshot as a tool result.
  const png = { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'iVBORw0KGgo=' } };
  const agentTools = [
    { name: 'screenshot', description: 'Take a screenshot', input_schema: { type: 'object' as const, properties: {} } },
    { name: 'read_file', input_schema: { type: 'object' as const, properties: { path: { type: 'string' } } }, cache_control: { type: 'ephemeral' as const } },
  ];
  const agentHistory: Anthropic.MessageParam[] = [
    { role: 'user', content: 'Look at the screen and read notes.txt' },
    {
      role: 'assistant',
      content: [
        { type: 'tool_use', id: 'toolu_A', name: 'screenshot', input: {} },
        { type: 'tool_use', id: 'toolu_B', name: 'read_file', input: { path: 'notes.txt' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_A', content: [png], cache_control: { type: 'ephemeral' } },
        { type: 'tool_result', tool_use_id: 'toolu_B', content: 'no such file', is_error: true },
      ],
    },
  ];
  const agentRequest = {
    max_tokens: 4000,
    thinking: { type: 'enabled' as const, budget_tokens: 2000 },
    system: [
      { type: 'text' as const, text: 'You are a coding agent.', cache_control: { type: 'ephemeral' as const } },
      { type: 'text' as const, text: 'Be careful.' },
    ],
    tools: agentTools,
    messages: agentHistory,
  };
  const beta = { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } };

  it('an Anthropic target gets cache_control, thinking, the client betas and tool_result images; thinking comes back signed (JSON and stream) and goes back', async () => {
    claude.script({ kind: 'thinking', thinking: 'The screen shows an editor.', text: 'I see an editor.', redacted: true });
    const msg = await client.messages.create({ model: 'via-anthropic', ...agentRequest }, beta);
    const sent = claude.requests.at(-1);
    expect(sent?.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
    expect(sent?.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2000 });
    expect(sent?.body.system).toEqual([
      { type: 'text', text: 'You are a coding agent.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Be careful.' },
    ]);
    expect((sent?.body.tools as unknown[])[1]).toMatchObject({ name: 'read_file', cache_control: { type: 'ephemeral' } });
    expect((sent?.body.messages as unknown[])[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_A', content: [png], cache_control: { type: 'ephemeral' } },
        { type: 'tool_result', tool_use_id: 'toolu_B', content: 'no such file', is_error: true },
      ],
    });
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: 'The screen shows an editor.', signature: 'EqQBCkYIBxgCKkBemulated27' },
      { type: 'redacted_thinking', data: expect.stringMatching(/^EmwK/) },
      { type: 'text', text: 'I see an editor.' },
    ]);
    // Cache writes and reads are still counted apart.
    expect(msg.usage).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5, output_tokens: 8 });

    claude.script({ kind: 'thinking', thinking: 'Streamed reasoning.', text: 'Streamed answer.', redacted: true });
    const stream = client.messages.stream({ model: 'via-anthropic', ...agentRequest }, beta);
    const thoughts: string[] = [];
    stream.on('thinking', (t) => thoughts.push(t));
    const final = await stream.finalMessage();
    expect(thoughts.join('')).toBe('Streamed reasoning.');
    expect(final.content).toEqual([
      { type: 'thinking', thinking: 'Streamed reasoning.', signature: 'EqQBCkYIBxgCKkBemulated19' },
      { type: 'redacted_thinking', data: expect.stringMatching(/^EmwK/) },
      { type: 'text', text: 'Streamed answer.' },
    ]);
    expect(claude.requests.at(-1)?.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');

    // The next turn sends the signed reasoning back, as the API requires with thinking on.
    claude.script({ kind: 'text', text: 'Done.' });
    const next = await client.messages.create(
      { model: 'via-anthropic', ...agentRequest, messages: [...agentHistory, { role: 'assistant', content: final.content }, { role: 'user', content: 'Go on' }] },
      beta,
    );
    expect(next.content).toEqual([{ type: 'text', text: 'Done.' }]);
    expect((claude.requests.at(-1)?.body.messages as unknown[])[3]).toEqual({ role: 'assistant', content: final.content });
    expect(claude.problems).toEqual([]);
  });

  it('the same request to other targets: OpenAI gets a valid chat body (images after the tool results, errors in text), Bedrock the images and error status', async () => {
    upstream.script({ kind: 'ok', content: 'ok' });
    await client.messages.create({ model: 'via-openai', ...agentRequest, messages: [...agentHistory, { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }, { type: 'text', text: 'Hm.' }] }, { role: 'user', content: 'Go on' }] }, beta);
    const sent = upstream.requests.at(-1)?.body;
    expect(sent?.thinking).toBeUndefined();
    expect(JSON.stringify(sent)).not.toContain('cache_control');
    expect(sent?.messages).toEqual([
      { role: 'system', content: [{ type: 'text', text: 'You are a coding agent.' }, { type: 'text', text: 'Be careful.' }] },
      { role: 'user', content: 'Look at the screen and read notes.txt' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_A', type: 'function', function: { name: 'screenshot', arguments: '{}' } },
          { id: 'toolu_B', type: 'function', function: { name: 'read_file', arguments: '{"path":"notes.txt"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_A', content: '' },
      { role: 'tool', tool_call_id: 'toolu_B', content: 'Error: no such file' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hm.' }] },
      { role: 'user', content: 'Go on' },
    ]);

    bedrock.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-bedrock', ...agentRequest }, beta);
    const converse = bedrock.requests.at(-1)?.body;
    expect((converse?.messages as unknown[])[2]).toEqual({
      role: 'user',
      content: [
        { toolResult: { toolUseId: 'toolu_A', content: [{ image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } }] } },
        { toolResult: { toolUseId: 'toolu_B', content: [{ text: 'no such file' }], status: 'error' } },
      ],
    });
    expect(bedrock.problems).toEqual([]);
  });

  const SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };

  it('output_config reaches an Anthropic target as sent; Bedrock gets its format as the JSON tool, unwrapped in the answer', async () => {
    // Before, output_config was dropped at the door: every target answered at its default effort, in free text.
    const output_config = { effort: 'low' as const, format: { type: 'json_schema' as const, schema: SCHEMA } };
    claude.script({ kind: 'text', text: '{"city":"Paris"}' });
    const msg = await client.messages.create({ model: 'via-anthropic', max_tokens: 100, output_config, messages: [{ role: 'user', content: 'Capital of France?' }] });
    expect(msg.content).toEqual([{ type: 'text', text: '{"city":"Paris"}' }]);
    const sent = claude.requests.at(-1)?.body;
    expect(sent?.output_config).toEqual(output_config);
    expect(sent?.tools).toBeUndefined();
    expect(claude.problems).toEqual([]);

    bedrock.script({ kind: 'json', value: { city: 'Paris' } });
    const json = await client.messages.create({ model: 'via-bedrock', max_tokens: 100, output_config: { format: output_config.format }, messages: [{ role: 'user', content: 'Capital of France?' }] });
    expect(json.content).toEqual([{ type: 'text', text: '{"city":"Paris"}' }]);
    expect(json.stop_reason).toBe('end_turn');
    const converse = bedrock.requests.at(-1)?.body;
    expect(JSON.stringify(converse)).not.toContain('output_config');
    expect((converse?.toolConfig as { tools: { toolSpec: { inputSchema: unknown } }[] }).tools[0]?.toolSpec.inputSchema).toEqual({ json: SCHEMA });
    expect(bedrock.problems).toEqual([]);
  });

  it('streamed from an Anthropic upstream, message_start carries its input counts (uncached, cache writes and reads), not the estimate', async () => {
    // Before, message_start said the gateway's estimate (input_tokens 8, no cache fields) and only
    // message_delta had the real counts; clients that read usage from message_start (LangChain) got the estimate.
    claude.script({ kind: 'text', text: 'Hello' });
    const stream = await client.messages.create({ model: 'via-anthropic', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'Hi there, how are you?' }] });
    let start: Anthropic.Messages.Usage | undefined;
    for await (const event of stream) if (event.type === 'message_start') start = event.message.usage;
    expect(start).toMatchObject({ input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 5 });
    expect(claude.problems).toEqual([]);

    // An OpenAI-wire upstream counts only at the end: message_start keeps the gateway's estimate.
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0 });
    const estimated = await client.messages.create({ model: 'via-openai', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'Hi there, how are you?' }] });
    let first: Anthropic.Messages.Usage | undefined;
    for await (const event of estimated) if (event.type === 'message_start') first = event.message.usage;
    expect(first?.input_tokens).toBeGreaterThan(0);
    expect(first?.input_tokens).not.toBe(7);
  });

  it('a refusal from an OpenAI upstream is the answer text with stop_reason refusal, streamed too', async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] });
    upstream.script({
      kind: 'events',
      events: [chunk({ role: 'assistant', content: null, refusal: '' }), chunk({ refusal: "I can't help " }), chunk({ refusal: 'with that.' }), chunk({}, 'stop'), { id: 'chatcmpl-r', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } }],
    });
    const final = await client.messages.stream({ model: 'via-openai', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: "I can't help with that." }]);
    expect(final.stop_reason).toBe('refusal');
  });

  it('errors come back as Anthropic error JSON', async () => {
    const missing = await client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    // The body names the request as the API's own error bodies do (it did not before), the id of the request-id header.
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).requestID).toMatch(/.+/);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ request_id: (missing as InstanceType<typeof Anthropic.NotFoundError>).requestID });

    const invalid = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"via-openai"}' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });

    const badJson = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(await badJson.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: badJson.headers.get('request-id') });

    claude.script({ kind: 'rate-limit' });
    const limited = await client.messages.create({ model: 'via-anthropic', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBeTruthy();

    // Anthropic's 529 reaches an Anthropic client as overloaded_error (clients back off on it), not as a generic api_error.
    claude.script({ kind: 'overloaded' }, { kind: 'overloaded' });
    const overloaded = await client.messages.create({ model: 'via-anthropic', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBeTruthy();

    claude.script({ kind: 'bad-request', message: 'max_tokens: too large' });
    const relayed = await client.messages.create({ model: 'via-anthropic', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(relayed).toBeInstanceOf(Anthropic.BadRequestError);
    expect((relayed as Error).message).toContain('max_tokens: too large');
  });

  // A one-page PDF ("%PDF-1.4 ..."), base64, as the SDK's users send it.
  const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n').toString('base64');
  const documents: Anthropic.Messages.DocumentBlockParam[] = [
    { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'Q3 report', context: 'Finance', citations: { enabled: true }, cache_control: { type: 'ephemeral' } },
    { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' }, title: 'Notes' },
    { type: 'document', source: { type: 'url', url: 'https://example.com/report.pdf' } },
    { type: 'document', source: { type: 'file', file_id: 'file_011CNha8iCJcU1wXNR6q4V8w' } },
  ];
  const files = { headers: { 'anthropic-beta': 'files-api-2025-04-14' } };
  /** documents[0] without citations (which only Anthropic targets take). */
  const { citations: _cited, ...pdfUncited } = documents[0]!;

  it('document blocks (base64 PDF, text, URL, Files API id) reach an Anthropic target as sent', async () => {
    // Before, any document block was a 400 invalid_request_error at the gateway's door.
    claude.script({ kind: 'text', text: 'Read them.' });
    const msg = await client.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: [{ role: 'user', content: [...documents, { type: 'text', text: 'Summarise these.' }] }] }, files);
    expect(msg.content).toEqual([{ type: 'text', text: 'Read them.' }]);
    const sent = claude.requests.at(-1);
    expect(sent?.body.messages).toEqual([{ role: 'user', content: [...documents, { type: 'text', text: 'Summarise these.' }] }]);
    expect(sent?.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    expect(claude.problems).toEqual([]);
  });

  it('document blocks to an OpenAI-wire target: a PDF as a chat file part, text as text; a URL or Files API document is a 400 naming the block, nothing sent', async () => {
    upstream.script({ kind: 'ok', content: 'ok' });
    await client.messages.create({ model: 'via-openai', max_tokens: 64, messages: [{ role: 'user', content: [pdfUncited, documents[1]!, { type: 'text', text: 'Summarise these.' }] }] });
    expect(upstream.requests.at(-1)?.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Document title: Q3 report\nDocument context: Finance\n' },
          { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
          { type: 'text', text: 'Document title: Notes\n' },
          { type: 'text', text: 'The grass is green.' },
          { type: 'text', text: 'Summarise these.' },
        ],
      },
    ]);
    for (const [i, source] of [[2, 'url'], [3, 'file']] as const) {
      const before = upstream.requests.length;
      const err = await client.messages.create({ model: 'via-openai', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'Read:' }, documents[i]!] }] }, files).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain(`document blocks with a ${source} source are not supported by this provider`);
      expect(upstream.requests.length).toBe(before);
    }
  });

  it('document blocks to Gemini and Bedrock: a PDF as their native inline PDF, text as text; a URL document is a 400 naming the block', async () => {
    // Before, any document block was a 400 invalid_request_error at the gateway's door.
    const content: Anthropic.Messages.ContentBlockParam[] = [pdfUncited, documents[1]!, { type: 'text', text: 'Summarise these.' }];
    gemini.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-gemini', max_tokens: 64, messages: [{ role: 'user', content }] });
    expect(gemini.requests.at(-1)?.body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'Document title: Q3 report\nDocument context: Finance\n' },
          { inlineData: { mimeType: 'application/pdf', data: PDF } },
          { text: 'Document title: Notes\n' },
          { text: 'The grass is green.' },
          { text: 'Summarise these.' },
        ],
      },
    ]);
    expect(gemini.problems).toEqual([]);

    bedrock.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-bedrock', max_tokens: 64, messages: [{ role: 'user', content }] });
    expect(bedrock.requests.at(-1)?.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { text: 'Document title: Q3 report\nDocument context: Finance\n' },
          { document: { format: 'pdf', name: 'document-messages-0-content-0', source: { bytes: PDF } } },
          { text: 'Document title: Notes\n' },
          { text: 'The grass is green.' },
          { text: 'Summarise these.' },
        ],
      },
    ]);
    expect(bedrock.problems).toEqual([]);

    for (const model of ['via-gemini', 'via-bedrock']) {
      const err = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'Read:' }, documents[2]!] }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain('document blocks with a url source are not supported by this provider');
    }
  });

  it('a text document reaches an Anthropic target as a document with what a request guardrail masked in it masked', async () => {
    claude.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'guarded-claude', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Write to ann@example.com.' }, title: 'Notes' }] }] });
    const [block] = (claude.requests.at(-1)?.body.messages as { content: Record<string, unknown>[] }[])[0]!.content;
    expect(block).toMatchObject({ type: 'document', source: { type: 'text', media_type: 'text/plain' }, title: 'Notes' });
    expect(JSON.stringify(block)).not.toContain('ann@example.com');
    expect(claude.problems).toEqual([]);
  });

  const tinyPng = { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'iVBORw0KGgo=' } };
  const header = 'Document title: Scan\nDocument context: From the archive\n';

  it('a document of content blocks (source.type content) reaches an Anthropic target as sent; other targets get its blocks as text and image parts after its title and context', async () => {
    // Before, a content document was a 400 invalid_request_error at the gateway's door, whatever the target.
    const scan: Anthropic.Messages.DocumentBlockParam = {
      type: 'document',
      source: { type: 'content', content: [{ type: 'text', text: 'Page one.' }, tinyPng] },
      title: 'Scan',
      context: 'From the archive',
      cache_control: { type: 'ephemeral' },
    };
    const plain: Anthropic.Messages.DocumentBlockParam = { type: 'document', source: { type: 'content', content: 'Just text.' } };
    const content: Anthropic.Messages.ContentBlockParam[] = [scan, plain, { type: 'text', text: 'Read.' }];

    claude.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: [{ role: 'user', content }] });
    // A string of content is the same document as one text block, which is how it goes.
    const asBlocks = { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'Just text.' }] } };
    expect(claude.requests.at(-1)?.body.messages).toEqual([{ role: 'user', content: [scan, asBlocks, { type: 'text', text: 'Read.' }] }]);
    expect(claude.problems).toEqual([]);

    upstream.script({ kind: 'ok', content: 'ok' });
    await client.messages.create({ model: 'via-openai', max_tokens: 64, messages: [{ role: 'user', content }] });
    expect(upstream.requests.at(-1)?.body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: header },
          { type: 'text', text: 'Page one.' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'text', text: 'Just text.' },
          { type: 'text', text: 'Read.' },
        ],
      },
    ]);

    gemini.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-gemini', max_tokens: 64, messages: [{ role: 'user', content }] });
    expect(gemini.requests.at(-1)?.body.contents).toEqual([
      { role: 'user', parts: [{ text: header }, { text: 'Page one.' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }, { text: 'Just text.' }, { text: 'Read.' }] },
    ]);
    expect(gemini.problems).toEqual([]);

    bedrock.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-bedrock', max_tokens: 64, messages: [{ role: 'user', content }] });
    expect(bedrock.requests.at(-1)?.body.messages).toEqual([
      { role: 'user', content: [{ text: header }, { text: 'Page one.' }, { image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } }, { text: 'Just text.' }, { text: 'Read.' }] },
    ]);
    expect(bedrock.problems).toEqual([]);
  });

  const readTools = [{ name: 'read_doc', input_schema: { type: 'object' as const, properties: {} } }];
  const toolTurns = (result: Anthropic.Messages.ToolResultBlockParam['content']): Anthropic.MessageParam[] => [
    { role: 'user', content: 'Read the notes.' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_D', name: 'read_doc', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_D', content: result }] },
  ];
  const pdfBare: Anthropic.Messages.DocumentBlockParam = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } };

  it('documents in a tool_result: an Anthropic target gets them as sent; OpenAI-wire a text document as the tool text and a PDF in a user message after; Bedrock in the toolResult; Gemini after the functionResponse', async () => {
    // Before, a tool_result holding a document was a 400 invalid_request_error at the gateway's door.
    const messages = toolTurns([documents[1]!, pdfBare]);
    claude.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-anthropic', max_tokens: 64, tools: readTools, messages });
    expect((claude.requests.at(-1)?.body.messages as unknown[]).at(-1)).toEqual(messages[2]);
    expect(claude.problems).toEqual([]);

    upstream.script({ kind: 'ok', content: 'ok' });
    await client.messages.create({ model: 'via-openai', max_tokens: 64, tools: readTools, messages });
    expect((upstream.requests.at(-1)?.body.messages as unknown[]).slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_D', content: 'Document title: Notes\nThe grass is green.' },
      { role: 'user', content: [{ type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${PDF}` } }] },
    ]);

    bedrock.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-bedrock', max_tokens: 64, tools: readTools, messages });
    expect((bedrock.requests.at(-1)?.body.messages as unknown[]).at(-1)).toEqual({
      role: 'user',
      content: [
        {
          toolResult: {
            toolUseId: 'toolu_D',
            content: [{ text: 'Document title: Notes\n' }, { text: 'The grass is green.' }, { document: { format: 'pdf', name: 'document-messages-2-content-1', source: { bytes: PDF } } }],
          },
        },
      ],
    });
    expect(bedrock.problems).toEqual([]);

    gemini.script({ kind: 'text', text: 'ok' });
    await client.messages.create({ model: 'via-gemini', max_tokens: 64, tools: readTools, messages });
    expect((gemini.requests.at(-1)?.body.contents as unknown[]).at(-1)).toEqual({
      role: 'user',
      parts: [{ functionResponse: { name: 'read_doc', response: { output: 'Document title: Notes\nThe grass is green.' } } }, { inlineData: { mimeType: 'application/pdf', data: PDF } }],
    });
    expect(gemini.problems).toEqual([]);

    // A document OpenAI cannot fetch is refused in a tool result as in a user turn: nothing sent.
    const before = upstream.requests.length;
    const err = await client.messages.create({ model: 'via-openai', max_tokens: 64, tools: readTools, messages: toolTurns([documents[2]!]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toContain('document blocks with a url source are not supported by this provider');
    expect(upstream.requests.length).toBe(before);
  });

  it('a document asking for citations is a 400 naming its citations on targets that cannot cite (a route fails over); nothing is sent', async () => {
    // Before, citations were dropped silently: the answer came without the cited passages asked for.
    for (const [model, sent] of [['via-openai', () => upstream.requests.length], ['via-gemini', () => gemini.requests.length], ['via-bedrock', () => bedrock.requests.length]] as const) {
      const before = sent();
      const err = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: [documents[0]!, { type: 'text', text: 'Cite it.' }] }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain('document citations are not supported by this provider');
      expect(sent()).toBe(before);
    }
  });

  it('a request guardrail masks the text of a content document, a tool_result document and a document title before an Anthropic target gets them', async () => {
    claude.script({ kind: 'text', text: 'ok' });
    await client.messages.create({
      model: 'guarded-claude',
      max_tokens: 64,
      tools: readTools,
      messages: [
        { role: 'user', content: [{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'Mail ann@example.com.' }, tinyPng] }, title: 'For bob@example.com' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_D', name: 'read_doc', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_D', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Or cy@example.com.' } }] }] },
      ],
    });
    const sent = claude.requests.at(-1)?.body.messages as { content: Record<string, unknown>[] }[];
    expect(sent[0]!.content[0]).toMatchObject({ type: 'document', source: { type: 'content', content: [{ type: 'text' }, tinyPng] } });
    expect(sent[2]!.content[0]).toMatchObject({ type: 'tool_result', content: [{ type: 'document', source: { type: 'text' } }] });
    const text = JSON.stringify(sent);
    for (const address of ['ann@example.com', 'bob@example.com', 'cy@example.com']) expect(text).not.toContain(address);
    expect(claude.problems).toEqual([]);
  });

  it('a PDF document is estimated from its inline data, as a chat file part is (count_tokens on a non-Anthropic route)', async () => {
    const bare = await client.messages.countTokens({ model: 'via-openai', messages: [{ role: 'user', content: 'Summarise.' }] });
    const withPdf = await client.messages.countTokens({ model: 'via-openai', messages: [{ role: 'user', content: [documents[0]!, { type: 'text', text: 'Summarise.' }] }] });
    expect(withPdf.input_tokens - bare.input_tokens).toBeGreaterThanOrEqual(Math.floor(PDF.length / 4));
  });

  it('messages.countTokens: counted by an Anthropic upstream (without the members it refuses), estimated for any other; errors the Anthropic way', async () => {
    claude.script({ kind: 'text' });
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const counted = await client.messages.countTokens({ model: 'via-anthropic', system: 'Be brief.', tools, messages: [{ role: 'user', content: 'Hello' }, { role: 'assistant', content: 'Hi' }, { role: 'user', content: 'Weather?' }] }, { headers: { 'anthropic-beta': 'token-counting-2024-11-01' } }).withResponse();
    // 3 + 4 × 3 messages + 10 (system) + 20 (one tool), the emulator's count.
    expect(counted.data).toEqual({ input_tokens: 45 });
    expect(counted.response.headers.get('x-tollgate-token-count')).toBe('upstream');
    const sent = claude.requests.at(-1);
    expect(sent?.url).toBe('/v1/messages/count_tokens');
    expect(sent?.headers['x-api-key']).toBe('sk-ant-test');
    expect(sent?.headers['anthropic-beta']).toBe('token-counting-2024-11-01');
    expect(sent?.body.model).toBe('claude-sonnet-4-5');

    // A client counting the request it is about to send includes max_tokens and more: not forwarded (the API refuses them).
    const full = await fetch(`${gateway.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'via-anthropic', max_tokens: 100, temperature: 0.2, stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(await full.json()).toEqual({ input_tokens: 7 });

    const estimated = await client.messages.countTokens({ model: 'via-openai', messages: [{ role: 'user', content: 'word '.repeat(400) }] }).withResponse();
    expect(estimated.response.headers.get('x-tollgate-token-count')).toBe('estimated');
    expect(estimated.data.input_tokens).toBeGreaterThan(300);
    expect(estimated.data.input_tokens).toBeLessThan(800);

    // An upstream that cannot count now: the estimate. One that refuses the request: its refusal.
    claude.script({ kind: 'server-error' });
    const fallback = await client.messages.countTokens({ model: 'via-anthropic', messages: [{ role: 'user', content: 'Hello' }] }).withResponse();
    expect(fallback.response.headers.get('x-tollgate-token-count')).toBe('estimated');
    claude.script({ kind: 'bad-request', message: 'messages.0.content: Input should be a valid list' });
    const refused = await client.messages.countTokens({ model: 'via-anthropic', messages: [{ role: 'user', content: 'Hello' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toContain('default/claude refused to count the request: invalid_request_error: messages.0.content: Input should be a valid list');

    const missing = await client.messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    const invalid = await fetch(`${gateway.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"via-anthropic"}' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it("messages.countTokens never sends the prompt to a Provider the caller's residency excludes: the estimate instead", async () => {
    claude.script({ kind: 'text' });
    const before = claude.requests.length;
    // Every caller is anonymous here: held to the requirements of the route's namespace (regulated).
    const counted = await client.messages.countTokens({ model: 'regulated-claude', messages: [{ role: 'user', content: 'word '.repeat(40) }] }).withResponse();
    expect(counted.response.headers.get('x-tollgate-token-count')).toBe('estimated');
    // Before, the route's first target counted, whatever residency required: the prompt went to it.
    expect(claude.requests.length).toBe(before);
  });

  it('messages.countTokens never sends a prompt past request guardrails it does not run: the estimate instead', async () => {
    claude.script({ kind: 'text' });
    const before = claude.requests.length;
    const counted = await client.messages.countTokens({ model: 'guarded-claude', messages: [{ role: 'user', content: 'write to ann@example.com' }] }).withResponse();
    expect(counted.response.headers.get('x-tollgate-token-count')).toBe('estimated');
    // Before, the address the policy masks on /v1/messages went to the upstream's count unmasked.
    expect(claude.requests.length).toBe(before);
  });

  it('a failure mid-stream becomes an Anthropic error event', async () => {
    claude.script({ kind: 'stream-error' });
    const stream = client.messages.stream({ model: 'via-anthropic', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
  });
});
