import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A Realtime session's input transcription whose report never comes (the session ends first, or the
// transcription fails): the upstream billed the audio it was sent all the same. Each committed item
// of a session with a transcription model is held at its bound while its transcription is pending,
// and charged that bound (marked transcription_unreported) if it is never reported. Before, such a
// transcription was charged nothing and held nothing.

const KEY = 'tg-transcription';

const route = (name: string, model: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: voice }, model: ${model} }]
  passThrough: { endpoints: [${model === 'gpt-realtime' ? 'realtime' : 'audio'}] }
`;

const budget = (routeName: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${routeName}-cap }
spec:
  limit: { amount: 0.03, unit: USD }
  period: Day
  subjects: { routes: [{ name: ${routeName} }] }
`;

/** `seconds` of speech (pcm16 at 24 kHz), then a tenth of a second of silence: server VAD ends the turn. */
function turn(seconds: number): string[] {
  return [
    JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000 * seconds, 1).toString('base64') }),
    JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') }),
  ];
}

/** The bound of a transcription of `seconds` of audio: 20 audio tokens a second in, 32 tokens a second and 16 more out. */
function bound(seconds: number): { inputTokens: number; outputTokens: number } {
  return { inputTokens: Math.ceil(seconds * 20), outputTokens: 16 + Math.ceil(seconds * 32) };
}

describe('Realtime input transcriptions never reported', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(
      {
        'all.yaml':
          // gpt-realtime's and gpt-4o-transcribe's published prices.
          providerManifest('voice', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime, pricing: { input: 4, output: 16, cachedInput: 0.4, audioInput: 32, audioOutput: 64 } }, { name: gpt-4o-transcribe, pricing: { input: 2.5, output: 10, cachedInput: 0, audioInput: 6 } }]\n') +
          secretManifest('up-key', { apiKey: 'sk-upstream' }) +
          apiKeySecretManifest('caller', KEY),
        'routes.yaml': [route('voice', 'gpt-realtime'), route('held', 'gpt-realtime'), budget('held'), route('cheap', 'gpt-realtime'), budget('cheap'), route('transcribe', 'gpt-4o-transcribe')].join('---\n'),
      },
      { auth: new Authenticator({}) },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  /** A session on `model` whose turns are transcribed (`prompt` steers the emulator) and start no response. */
  async function session(model: string, prompt?: string, transcriber = 'gpt-4o-transcribe'): Promise<{ ws: WebSocket; events: { type: string; error?: { code?: string } }[] }> {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=${model}`, { headers: { authorization: `Bearer ${KEY}` } });
    await once(ws, 'open');
    const events: { type: string; error?: { code?: string } }[] = [];
    ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
    const transcription = { model: transcriber, ...(prompt === undefined ? {} : { prompt }) };
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription, turn_detection: { type: 'server_vad', create_response: false } } } } }));
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('session.updated'), { timeout: 3000 });
    return { ws, events };
  }

  const recordsOf = (routeName: string) => gateway.usage.records.filter((r) => r.routeId === `default/${routeName}`);

  it('a session that closes before its transcription is reported is charged its bound (the audio committed, at the model’s prices), marked transcription_unreported', async () => {
    const before = recordsOf('voice').length;
    const { ws, events } = await session('voice', 'emulator:hang');
    for (const m of turn(1)) ws.send(m);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('conversation.item.added'), { timeout: 3000 });
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 1), { timeout: 3000 });
    const record = recordsOf('voice')[before];
    const b = bound(1.1);
    // Before, nothing: the upstream billed the transcription outside the gateway's metering.
    expect(record).toMatchObject({ op: 'realtime', upstreamModel: 'gpt-4o-transcribe', ...b, estimated: true, estimateReason: 'transcription_unreported' });
    // Its audio at gpt-4o-transcribe's $6/M audio input, its transcript at $10/M.
    expect(record?.costUsd).toBeCloseTo((b.inputTokens * 6 + b.outputTokens * 10) / 1e6, 10);
  });

  it('an item created with input audio (conversation.item.create) is transcribed too: held while pending, charged its bound if never reported, as reported otherwise', async () => {
    const before = recordsOf('voice').length;
    const { ws, events } = await session('voice', 'emulator:hang');
    const audioItem = (seconds: number, id?: string) => JSON.stringify({ type: 'conversation.item.create', item: { ...(id === undefined ? {} : { id }), type: 'message', role: 'user', content: [{ type: 'input_audio', audio: Buffer.alloc(48_000 * seconds, 1).toString('base64') }] } });
    // One the upstream names, one the client names, and a text item (no transcription).
    ws.send(audioItem(2));
    ws.send(audioItem(1, 'item_mine'));
    ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] } }));
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'conversation.item.added')).toHaveLength(3), { timeout: 3000 });
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 2), { timeout: 3000 });
    // Before, nothing: only audio appended to the buffer and committed was taken to be transcribed.
    expect(recordsOf('voice').slice(before)).toEqual([
      expect.objectContaining({ upstreamModel: 'gpt-4o-transcribe', ...bound(2), estimateReason: 'transcription_unreported' }),
      expect.objectContaining({ upstreamModel: 'gpt-4o-transcribe', ...bound(1), estimateReason: 'transcription_unreported' }),
    ]);
    // Reported: charged as reported (20 audio tokens in, 3 out), once.
    const reported = await session('voice');
    reported.ws.send(audioItem(2));
    await vi.waitFor(() => expect(reported.events.map((e) => e.type)).toContain('conversation.item.input_audio_transcription.completed'), { timeout: 3000 });
    reported.ws.close();
    await once(reported.ws, 'close');
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 3), { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(recordsOf('voice').slice(before + 2)).toEqual([expect.objectContaining({ upstreamModel: 'gpt-4o-transcribe', inputTokens: 20, outputTokens: 3, estimated: false })]);
  });

  it('a transcription that fails is charged its bound when it fails; one reported is charged as reported, once', async () => {
    const before = recordsOf('voice').length;
    const { ws, events } = await session('voice', 'emulator:fail');
    for (const m of turn(1)) ws.send(m);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('conversation.item.input_audio_transcription.failed'), { timeout: 3000 });
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 1), { timeout: 3000 });
    expect(recordsOf('voice')[before]).toMatchObject({ upstreamModel: 'gpt-4o-transcribe', ...bound(1.1), estimateReason: 'transcription_unreported' });
    // The audio cleared before a commit is transcribed by no item: the next item's bound leaves it out.
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: { model: 'gpt-4o-transcribe', prompt: 'emulator:hang' } } } } }));
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'session.updated')).toHaveLength(2), { timeout: 3000 });
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000 * 3, 1).toString('base64') }));
    ws.send(JSON.stringify({ type: 'input_audio_buffer.clear' }));
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('input_audio_buffer.cleared'), { timeout: 3000 });
    for (const m of turn(1)) ws.send(m);
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'conversation.item.added')).toHaveLength(2), { timeout: 3000 });
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 2), { timeout: 3000 });
    expect(recordsOf('voice')[before + 1]).toMatchObject({ upstreamModel: 'gpt-4o-transcribe', ...bound(1.1), estimateReason: 'transcription_unreported' });
  });

  it('a session that turns its transcription off (null) has nothing pending for the turns after', async () => {
    const before = recordsOf('voice').length;
    const { ws, events } = await session('voice', 'emulator:hang');
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', audio: { input: { transcription: null } } } }));
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'session.updated')).toHaveLength(2), { timeout: 3000 });
    for (const m of turn(1)) ws.send(m);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('conversation.item.added'), { timeout: 3000 });
    ws.close();
    await once(ws, 'close');
    await new Promise((r) => setTimeout(r, 100));
    expect(recordsOf('voice').length).toBe(before);
  });

  it('a pending transcription is held against the Budget: a response that fits beside a reported one is refused beside one pending', async () => {
    const create = JSON.stringify({ type: 'response.create', event_id: 'evt_after_turn', response: { max_output_tokens: 1 } });
    // Reported: its hold released at its completed event, the response fits in the $0.03 Budget.
    const reported = await session('held');
    for (const m of turn(10)) reported.ws.send(m);
    await vi.waitFor(() => expect(reported.events.map((e) => e.type)).toContain('conversation.item.input_audio_transcription.completed'), { timeout: 3000 });
    reported.ws.send(create);
    await vi.waitFor(() => expect(reported.events.map((e) => e.type)).toContain('response.done'), { timeout: 3000 });
    reported.ws.close();
    await once(reported.ws, 'close');
    // Pending, of a model no route prices: 10 s of audio hold $0.028 (202 tokens at the route's dearest $32/M, 340 at $64/M) until it is reported.
    const pending = await session('held', 'emulator:hang', 'gpt-4o-mini-transcribe');
    for (const m of turn(10)) pending.ws.send(m);
    await vi.waitFor(() => expect(pending.events.map((e) => e.type)).toContain('conversation.item.added'), { timeout: 3000 });
    pending.ws.send(create);
    // Before, nothing was held for it: the response was relayed and answered.
    await vi.waitFor(() => expect(pending.events.some((e) => e.type === 'error' && e.error?.code === 'budget_exceeded')).toBe(true), { timeout: 3000 });
    expect(pending.events.map((e) => e.type)).not.toContain('response.done');
    pending.ws.close();
    await once(pending.ws, 'close');
    await vi.waitFor(() => expect(recordsOf('held').filter((r) => r.estimateReason === 'transcription_unreported')).toHaveLength(1), { timeout: 3000 });
  });

  it("a pending transcription of a model the gateway prices is held at that model's prices, not the Realtime model's", async () => {
    const pending = await session('cheap', 'emulator:hang');
    for (const m of turn(10)) pending.ws.send(m);
    await vi.waitFor(() => expect(pending.events.map((e) => e.type)).toContain('conversation.item.added'), { timeout: 3000 });
    // gpt-4o-transcribe's bound: 202 tokens at $6/M and 340 at $10/M, $0.0046: the response fits beside it in $0.03.
    pending.ws.send(JSON.stringify({ type: 'response.create', event_id: 'evt_beside', response: { max_output_tokens: 1 } }));
    // Before, it was held at gpt-realtime's $32/M and $64/M ($0.028), and the response refused.
    await vi.waitFor(() => expect(pending.events.map((e) => e.type)).toContain('response.done'), { timeout: 3000 });
    expect(pending.events.filter((e) => e.type === 'error')).toEqual([]);
    pending.ws.close();
    await once(pending.ws, 'close');
    await vi.waitFor(() => expect(recordsOf('cheap').filter((r) => r.estimateReason === 'transcription_unreported')).toHaveLength(1), { timeout: 3000 });
  });

  it('a reported transcription of a model the gateway does not price is charged at the dearest of the session target’s prices (never under the model’s own)', async () => {
    const before = recordsOf('voice').length;
    const { ws, events } = await session('voice', undefined, 'gpt-4o-mini-transcribe');
    for (const m of turn(1)) ws.send(m);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('conversation.item.input_audio_transcription.completed'), { timeout: 3000 });
    ws.close();
    await once(ws, 'close');
    await vi.waitFor(() => expect(recordsOf('voice').length).toBe(before + 1), { timeout: 3000 });
    const record = recordsOf('voice')[before];
    expect(record).toMatchObject({ upstreamModel: 'gpt-4o-mini-transcribe', inputTokens: 10, outputTokens: 3, estimated: false });
    // 10 audio tokens at gpt-realtime's $32/M, the transcript's 3 at its dearest output price ($64/M audio).
    // Before, the transcript at its $16/M text price: a mini Realtime model's $2.40/M is under gpt-4o-transcribe's $10/M.
    expect(record?.costUsd).toBeCloseTo((10 * 32 + 3 * 64) / 1e6, 10);
  });
});
