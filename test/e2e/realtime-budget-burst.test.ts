import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
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

describe('a burst of response.create on a small Budget', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(
      {
        'all.yaml':
          providerManifest('up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime-upstream, pricing: { input: 4, output: 16, cachedInput: 0.4 } }]\n') +
          secretManifest('up-key', { apiKey: 'sk-upstream' }) +
          apiKeySecretManifest('caller', KEY),
        'routes.yaml': [route('tiny'), route('session-capped'), route('response-capped')].join('---\n'),
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
});
