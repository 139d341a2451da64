import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type RealtimeEmulator, startRealtimeEmulator, VAD_OUTPUT_TOKENS, VAD_RESPONSE_MS } from '../emulators/realtime.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A burst of response.create on a small Budget, over loopback and bounded (10 events, 5 s): every
// response.create is held at its worst case (its own output cap, else the session's, else the
// target's, else 4096 tokens) until its response.done. Before, the output held was the last
// response's (none before the first finished), so a burst sent at once was held at its input alone
// and overshot the Budget. The ratio spend / Budget is logged for the before/after comparison.

const KEY = 'tg-burst';
/** One response of the emulator (20 input tokens, 4 cached, 6 output) at these prices. */
const RESPONSE_USD = (16 * 4 + 4 * 0.4 + 6 * 16) / 1e6;
const BURST = 10;

const route = (name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: gpt-realtime-upstream }]
  passThrough: { endpoints: [realtime] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${name}-cap }
spec:
  limit: { amount: ${name === 'tiny' ? 0.0001 : 0.001}, unit: USD }
  period: Day
  subjects: { routes: [{ name: ${name} }] }
`;

/** Server VAD on gpt-realtime's prices, a $0.05 Budget. */
const VAD_ROUTE = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: vad }
spec:
  model: vad
  targets: [{ providerRef: { name: voice }, model: gpt-realtime }]
  passThrough: { endpoints: [realtime] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: vad-cap }
spec:
  limit: { amount: 0.05, unit: USD }
  period: Day
  subjects: { routes: [{ name: vad }] }
`;
const VAD_SESSIONS = 8;
/** One second of speech (pcm16 at 24 kHz) in, a spoken answer of VAD_OUTPUT_TOKENS out. */
const VAD_RESPONSE_USD = (10 * 32 + VAD_OUTPUT_TOKENS * 64) / 1e6;

describe('a burst of response.create on a small Budget', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(
      {
        'all.yaml':
          providerManifest('up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime-upstream, pricing: { input: 4, output: 16, cachedInput: 0.4 } }]\n') +
          // gpt-realtime's published prices: audio is 8× text in, 4× out.
          providerManifest('voice', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime, pricing: { input: 4, output: 16, cachedInput: 0.4, audioInput: 32, audioOutput: 64 } }]\n') +
          secretManifest('up-key', { apiKey: 'sk-upstream' }) +
          apiKeySecretManifest('caller', KEY),
        'routes.yaml': [route('tiny'), route('session-capped'), route('response-capped'), VAD_ROUTE, VAD_ROUTE.replaceAll('vad', 'vad-turns').replace('amount: 0.05', 'amount: 0.055'), VAD_ROUTE.replaceAll('vad', 'vad-refused').replace('amount: 0.05', 'amount: 0.001'), VAD_ROUTE.replaceAll('vad', 'vad-barge').replace('amount: 0.05', 'amount: 0.025')].join('---\n'),
      },
      { auth: new Authenticator({}) },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  /**
   * Opens a session on `model`, sends `before` (waiting for the upstream's `until` event), then BURST
   * copies of `create` at once; resolves once each was answered (response.done or a budget_exceeded
   * error) with the spend of the route and the Budget's amount.
   */
  async function burst(model: string, create: Record<string, unknown>, before?: { event: Record<string, unknown>; until: string }): Promise<{ done: number; refused: number; spentUsd: number }> {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=${model}`, { headers: { authorization: `Bearer ${KEY}` } });
    await once(ws, 'open');
    const events: { type: string; error?: { code?: string } }[] = [];
    ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
    if (before !== undefined) {
      ws.send(JSON.stringify(before.event));
      await vi.waitFor(() => expect(events.map((e) => e.type)).toContain(before.until), { timeout: 3000 });
    }
    for (let i = 0; i < BURST; i++) ws.send(JSON.stringify(create));
    const done = (): number => events.filter((e) => e.type === 'response.done').length;
    const refused = (): number => events.filter((e) => e.type === 'error' && e.error?.code === 'budget_exceeded').length;
    await vi.waitFor(() => expect(done() + refused()).toBe(BURST), { timeout: 5000 });
    ws.close();
    await once(ws, 'close');
    const spentUsd = gateway.usage.records.filter((r) => r.routeId === `default/${model}`).reduce((n, r) => n + r.costUsd, 0);
    return { done: done(), refused: refused(), spentUsd };
  }

  it('uncapped, on a $0.0001 Budget: held at the target’s 4096 output tokens, none fits; never more than the Budget is spent', async () => {
    const { done, spentUsd } = await burst('tiny', { type: 'response.create' });
    console.log(`uncapped burst of ${BURST} on $0.0001: ${done} responses, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.0001).toFixed(2)}× the Budget`);
    expect(spentUsd).toBeLessThanOrEqual(0.0001);
  });

  it("the session's max_output_tokens (session.update) is held for a response that sets none: some fit, never more than the $0.001 Budget is spent", async () => {
    const { done, spentUsd } = await burst('session-capped', { type: 'response.create' }, { event: { type: 'session.update', session: { type: 'realtime', max_output_tokens: 6 } }, until: 'session.updated' });
    console.log(`session-capped burst of ${BURST} on $0.001: ${done} responses, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.001).toFixed(2)}× the Budget`);
    expect(done).toBeGreaterThan(0);
    expect(spentUsd).toBeLessThanOrEqual(0.001);
    expect(spentUsd).toBeCloseTo(done * RESPONSE_USD, 12);
  });

  it("a response's own max_output_tokens is held: some fit, never more than the $0.001 Budget is spent", async () => {
    const { done, spentUsd } = await burst('response-capped', { type: 'response.create', response: { max_output_tokens: 6 } });
    console.log(`response-capped burst of ${BURST} on $0.001: ${done} responses, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.001).toFixed(2)}× the Budget`);
    expect(done).toBeGreaterThan(0);
    expect(spentUsd).toBeLessThanOrEqual(0.001);
  });

  it('server VAD: the response a turn would start is held before its audio is relayed; turns the Budget cannot hold are never heard, so none is cancelled and billed; never more than the Budget is spent', async () => {
    const sessions = await Promise.all(
      Array.from({ length: VAD_SESSIONS }, async () => {
        const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=vad`, { headers: { authorization: `Bearer ${KEY}` } });
        await once(ws, 'open');
        const events: { type: string; response?: { status?: string }; error?: { code?: string; message?: string } }[] = [];
        ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
        ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', max_output_tokens: VAD_OUTPUT_TOKENS } }));
        await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('session.updated'), { timeout: 3000 });
        ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') }));
        return { ws, events };
      }),
    );
    // Every turn ends at once: speech went quiet, the upstream commits it and starts a response of its own.
    const silence = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    for (const { ws } of sessions) ws.send(silence);
    const refusedTurn = (events: { type: string; error?: { code?: string } }[]): boolean => events.some((e) => e.type === 'error' && e.error?.code === 'budget_exceeded');
    for (const { events } of sessions) await vi.waitFor(() => expect(events.some((e) => e.type === 'response.done') || refusedTurn(events)).toBe(true), { timeout: 5000 });
    // A turn relayed may still end: wait a response's length for those that started.
    await new Promise((r) => setTimeout(r, VAD_RESPONSE_MS + 100));
    const completed = sessions.filter(({ events }) => events.some((e) => e.type === 'response.done' && e.response?.status === 'completed')).length;
    const started = sessions.filter(({ events }) => events.some((e) => e.type === 'response.created')).length;
    const cancelled = sessions.filter(({ events }) => events.some((e) => e.type === 'response.done' && e.response?.status === 'cancelled')).length;
    const refused = sessions.filter(({ events }) => refusedTurn(events)).length;
    for (const { ws } of sessions) ws.close();
    await Promise.all(sessions.map(({ ws }) => once(ws, 'close')));
    const spentUsd = gateway.usage.records.filter((r) => r.routeId === 'default/vad').reduce((n, r) => n + r.costUsd, 0);
    console.log(`server VAD: ${VAD_SESSIONS} turns ending at once on $0.05: ${completed} answered, ${cancelled} cancelled, ${refused} not relayed, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.05).toFixed(2)}× the Budget`);
    expect(completed).toBeGreaterThan(0);
    expect(completed + refused).toBe(VAD_SESSIONS);
    // Before, the turns were only asked about (nothing held), all relayed, and those that found the
    // room spent at their response.created were cancelled there and billed their input: 6 of 8.
    expect(cancelled).toBe(0);
    expect(started).toBe(completed);
    expect(spentUsd).toBeLessThanOrEqual(0.05);
    expect(spentUsd).toBeCloseTo(completed * VAD_RESPONSE_USD, 12);
    const refusal = sessions.flatMap(({ events }) => events).find((e) => e.type === 'error');
    expect(refusal?.error?.message).toMatch(/input audio is not relayed while the Budget cannot hold the response your turn would start/);
  });

  it('server VAD under a Budget that cannot hold a turn: the client’s audio is not relayed, so no turn is billed; before, each turn was cancelled at response.created and billed its input', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=vad-refused`, { headers: { authorization: `Bearer ${KEY}` } });
    await once(ws, 'open');
    const events: { type: string; error?: { code?: string; message?: string } }[] = [];
    ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
    // A spoken answer's worst case (200 audio tokens at $64/M: $0.0128) does not fit in $0.001.
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', max_output_tokens: VAD_OUTPUT_TOKENS } }));
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('session.updated'), { timeout: 3000 });
    const speech = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') });
    const silence = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    const TURNS = 5;
    for (let turn = 0; turn < TURNS; turn++) {
      ws.send(speech);
      ws.send(silence);
      // A turn the upstream heard is answered or cancelled within VAD_RESPONSE_MS; one it did not hear, never.
      await new Promise((r) => setTimeout(r, 250));
    }
    ws.close();
    await once(ws, 'close');
    const spentUsd = gateway.usage.records.filter((r) => r.routeId === 'default/vad-refused').reduce((n, r) => n + r.costUsd, 0);
    const started = events.filter((e) => e.type === 'response.created').length;
    const refusals = events.filter((e) => e.type === 'error' && e.error?.code === 'budget_exceeded');
    console.log(`server VAD, ${TURNS} turns on $0.001 that cannot hold one: ${started} responses started upstream, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.001).toFixed(2)}× the Budget`);
    expect(started).toBe(0);
    expect(spentUsd).toBeLessThanOrEqual(0.001);
    // Told once, not at every chunk of audio.
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.error?.message).toMatch(/input audio is not relayed while the Budget cannot hold the response your turn would start/);
  });

  it("turn after turn, each response is held at an upper bound of its input (the last response's input and output, and what the client sent since): never more than the Budget is spent", async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=vad-turns`, { headers: { authorization: `Bearer ${KEY}` } });
    await once(ws, 'open');
    const events: { type: string; response?: { status?: string }; error?: { code?: string } }[] = [];
    ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', max_output_tokens: VAD_OUTPUT_TOKENS } }));
    await vi.waitFor(() => expect(events.map((e) => e.type)).toContain('session.updated'), { timeout: 3000 });
    const speech = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') });
    const silence = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    const refused = (): boolean => events.some((e) => e.type === 'error' && e.error?.code === 'budget_exceeded');
    let turns = 0;
    // Each turn's input is the whole conversation: 10 audio tokens a second of speech, plus every answer's 200.
    while (turns < 5 && !refused()) {
      turns++;
      ws.send(speech);
      ws.send(silence);
      await vi.waitFor(() => expect(events.filter((e) => e.type === 'response.done').length === turns || refused()).toBe(true), { timeout: 3000 });
    }
    const answered = events.filter((e) => e.type === 'response.done' && e.response?.status === 'completed').length;
    ws.close();
    await once(ws, 'close');
    const spentUsd = gateway.usage.records.filter((r) => r.routeId === 'default/vad-turns').reduce((n, r) => n + r.costUsd, 0);
    const cancelled = events.filter((e) => e.type === 'response.done' && e.response?.status === 'cancelled').length;
    console.log(`server VAD, turn after turn on $0.055: ${answered} answered, ${cancelled} cancelled, spent $${spentUsd.toFixed(7)} = ${(spentUsd / 0.055).toFixed(2)}× the Budget`);
    expect(answered).toBeGreaterThan(0);
    // The turn that did not fit was kept from the upstream; before, it was relayed (the check had
    // passed a second earlier), cancelled at its response.created and billed its input ($0.0138).
    expect(cancelled).toBe(0);
    expect(spentUsd).toBeLessThanOrEqual(0.055);
  });

  it('barge-in on a Budget with room for one answer: the speech over it is kept back, the response.cancel goes through, and the next turn at once (the session never stalls)', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/v1/realtime?model=vad-barge`, { headers: { authorization: `Bearer ${KEY}` } });
    await once(ws, 'open');
    const events: { type: string; response?: { status?: string }; error?: { code?: string } }[] = [];
    ws.on('message', (data, binary) => !binary && events.push(JSON.parse(String(data)) as { type: string }));
    const count = (type: string): number => events.filter((e) => e.type === type).length;
    // A long answer (the emulator's `emulator:slow`) of at most 200 audio tokens: $0.0128 of output held, one fits in $0.025, two do not.
    ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime', max_output_tokens: VAD_OUTPUT_TOKENS, instructions: 'emulator:slow' } }));
    await vi.waitFor(() => expect(count('session.updated')).toBe(1), { timeout: 3000 });
    const speech = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(48_000, 1).toString('base64') });
    const silence = JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') });
    ws.send(speech);
    ws.send(silence);
    await vi.waitFor(() => expect(count('response.created')).toBe(1), { timeout: 3000 });
    // Past the gate's one-second interval, the user speaks over the answer: no room for a second turn.
    await new Promise((r) => setTimeout(r, 1100));
    ws.send(speech);
    await vi.waitFor(() => expect(events.some((e) => e.type === 'error' && e.error?.code === 'budget_exceeded')).toBe(true), { timeout: 3000 });
    ws.send(JSON.stringify({ type: 'response.cancel' }));
    await vi.waitFor(() => expect(events.some((e) => e.type === 'response.done' && e.response?.status === 'cancelled')).toBe(true), { timeout: 3000 });
    // At once: before, the Budgets were asked again only a second after the refusal, and this turn was dropped.
    ws.send(speech);
    ws.send(silence);
    await vi.waitFor(() => expect(count('response.created')).toBe(2), { timeout: 900 });
    ws.close();
    await once(ws, 'close');
  });
});
