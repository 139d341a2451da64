import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { metricValue } from '../support/admin-metrics.js';

// A Realtime session's limits beyond the route's connection count: one caller's share of the
// route's connections, the longest a session lives, the end of a session whose route or API key a
// new snapshot took away; and its admission decisions counted in the metrics a request's are.

const KEY_A = 'tg-realtime-a';
const KEY_B = 'tg-realtime-b';
/** Removed by the revocation test. */
const KEY_GONE = 'tg-realtime-gone';

const route = (name: string, extra = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: openai-up }, model: gpt-realtime-upstream }]
${extra}`;

const realtime = (limits = ''): string => `  passThrough: { endpoints: [realtime]${limits === '' ? '' : `, realtime: { ${limits} }`} }\n`;

const ROUTES = [
  route('voice', realtime()),
  route('voice-shared', realtime('maxConnections: 4, maxConnectionsPerCaller: 2')),
  route('voice-open', `  access: { namespaces: { from: All } }\n${realtime('maxConnections: 4, maxConnectionsPerCaller: 2')}`),
  route('voice-limited', `${realtime()}  rateLimits: [{ per: Route, requestsPerMinute: 1 }]\n`),
  route('voice-budgeted', realtime()),
  // One response.done costs $0.0001616 at these prices: the first connection spends it all.
  `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: cap }
spec:
  limit: { amount: 0.0001, unit: USD }
  period: Day
  subjects: { routes: [{ name: voice-budgeted }] }
`,
  route('voice-short', realtime('maxDuration: 600ms')),
  route('voice-guarded', realtime()),
  route('voice-unguarded', realtime()),
];
const GONE_ROUTE = route('voice-gone', realtime());

/** Three API keys of one other tenant (it makes as many as it likes). */
const OTHER_KEYS = ['tg-other-1', 'tg-other-2', 'tg-other-3'];
const otherKeys = OTHER_KEYS.map((key, i) => `apiVersion: v1
kind: Secret
metadata: { name: other-${i + 1}, namespace: team-other, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: ${key} }
---
`).join('');

function keys(withGone: boolean): string {
  return apiKeySecretManifest('caller-a', KEY_A) + apiKeySecretManifest('caller-b', KEY_B) + otherKeys + (withGone ? apiKeySecretManifest('caller-gone', KEY_GONE) : '');
}

/** Opens a WebSocket to the gateway; resolves with the HTTP answer of a refused upgrade, or the open socket. */
function connect(gatewayUrl: string, model: string, key: string): Promise<{ status: number; body: string } | WebSocket> {
  const ws = new WebSocket(`${gatewayUrl.replace('http', 'ws')}/v1/realtime?model=${model}`, { headers: { authorization: `Bearer ${key}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

async function open(gatewayUrl: string, model: string, key: string): Promise<WebSocket> {
  const ws = await connect(gatewayUrl, model, key);
  if (!(ws instanceof WebSocket)) throw new Error(`refused: ${ws.status} ${ws.body}`);
  return ws;
}

/** Every text event a socket receives, and how it closed. */
function watch(ws: WebSocket): { events: { type: string; error?: { code: string; message: string } }[]; closed: Promise<{ code: number; reason: string }> } {
  const events: { type: string; error?: { code: string; message: string } }[] = [];
  ws.on('message', (data, binary) => {
    if (!binary) events.push(JSON.parse(String(data)) as { type: string });
  });
  const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
  return { events, closed };
}

describe('Realtime session limits', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;

  const metric = (name: string, labels: Record<string, string>): Promise<number | undefined> => metricValue(gateway, name, labels);

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(
      {
        'providers.yaml':
          providerManifest('openai-up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models: [{ name: gpt-realtime-upstream, pricing: { input: 4, output: 16, cachedInput: 0.4 } }]\n') +
          secretManifest('up-key', { apiKey: 'sk-upstream' }),
        'keys.yaml': keys(true),
        'routes.yaml': [...ROUTES, GONE_ROUTE].join('---\n'),
      },
      { auth: new Authenticator({}), admin: true },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it("another namespace's callers hold at most half of a route's connections together, however many keys it has; the route's own namespace still connects", async () => {
    const [one, two, three] = OTHER_KEYS as [string, string, string];
    const sockets = [await open(gateway.url, 'voice-open', one), await open(gateway.url, 'voice-open', one)];
    try {
      // Before, each of the tenant's keys had its own share: two keys took all four connections.
      const more = await connect(gateway.url, 'voice-open', two);
      if (more instanceof WebSocket) sockets.push(more);
      expect(more).toMatchObject({ status: 429 });
      const error = (JSON.parse((more as { body: string }).body) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('too_many_connections');
      expect(error.message).toBe(
        "the callers of namespace team-other already hold 2 open Realtime connections on route default/voice-open on this gateway, half of its spec.passThrough.realtime.maxConnections, the most another namespace than the route's may hold; close one or retry shortly",
      );
      const third = await connect(gateway.url, 'voice-open', three);
      if (third instanceof WebSocket) sockets.push(third);
      expect(third).toMatchObject({ status: 429 });
      // The route's own namespace has the rest.
      sockets.push(await open(gateway.url, 'voice-open', KEY_A), await open(gateway.url, 'voice-open', KEY_B));
    } finally {
      for (const ws of sockets) ws.close();
      await Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : once(ws, 'close'))));
    }
    // The namespace's share is its own again once its connections closed.
    const again = await vi.waitFor(
      async () => {
        const ws = await connect(gateway.url, 'voice-open', two);
        expect(ws).toBeInstanceOf(WebSocket);
        return ws as WebSocket;
      },
      { timeout: 3000, interval: 50 },
    );
    again.close();
    await once(again, 'close');
  });

  it('one caller holds at most maxConnectionsPerCaller of the route: one more is refused 429 naming the limit, another caller still connects', async () => {
    const sockets = [await open(gateway.url, 'voice-shared', KEY_A), await open(gateway.url, 'voice-shared', KEY_A)];
    try {
      const third = await connect(gateway.url, 'voice-shared', KEY_A);
      if (third instanceof WebSocket) sockets.push(third);
      expect(third).toMatchObject({ status: 429 });
      const error = (JSON.parse((third as { body: string }).body) as { error: { code: string; type: string; message: string } }).error;
      expect(error).toMatchObject({ code: 'too_many_connections', type: 'rate_limit_error' });
      expect(error.message).toBe('key:default/caller-a already has its maximum of 2 open Realtime connections on route default/voice-shared on this gateway (spec.passThrough.realtime.maxConnectionsPerCaller); close one or retry shortly');
      // The route has room for another caller's.
      sockets.push(await open(gateway.url, 'voice-shared', KEY_B));
      // Counted as a rate-limit rejection of kind concurrency.
      expect(await metric('tollgate_rate_limit_rejections_total', { route: 'default/voice-shared', limit: 'concurrency' })).toBe(1);
    } finally {
      for (const ws of sockets) ws.close();
      await Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.CLOSED ? undefined : once(ws, 'close'))));
    }
    // A slot is the caller's again once its connection closed.
    const again = await vi.waitFor(
      async () => {
        const ws = await connect(gateway.url, 'voice-shared', KEY_A);
        expect(ws).toBeInstanceOf(WebSocket);
        return ws as WebSocket;
      },
      { timeout: 3000, interval: 50 },
    );
    again.close();
    await once(again, 'close');
  });

  it('a request rate limit or a Budget refusing the upgrade is counted in tollgate_rate_limit_rejections_total / tollgate_budget_rejections_total', async () => {
    const first = await open(gateway.url, 'voice-limited', KEY_A);
    first.close();
    const limited = await connect(gateway.url, 'voice-limited', KEY_A);
    expect(limited).toMatchObject({ status: 429 });
    expect(JSON.parse((limited as { body: string }).body)).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    expect(await metric('tollgate_rate_limit_rejections_total', { route: 'default/voice-limited', limit: 'requests' })).toBe(1);

    const spender = await open(gateway.url, 'voice-budgeted', KEY_A);
    const done = new Promise<void>((resolve) => spender.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    // Held at its worst case: capped (the emulator answers 6 tokens whatever the cap).
    spender.send(JSON.stringify({ type: 'response.create', response: { max_output_tokens: 1 } }));
    await done;
    spender.close();
    await once(spender, 'close');
    let refused: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; i < 50 && !(refused !== undefined && !(refused instanceof WebSocket)); i++) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await connect(gateway.url, 'voice-budgeted', KEY_A);
      if (refused instanceof WebSocket) refused.close();
    }
    expect(refused).toMatchObject({ status: 429 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ error: { code: 'budget_exceeded' } });
    expect(await metric('tollgate_budget_rejections_total', { route: 'default/voice-budgeted', budget: 'default/cap', action: 'reject' })).toBe(1);
  });

  it('a session that keeps sending ends at maxDuration: an error event (session_expired), then 1000 on both sides', async () => {
    // Earlier sessions' upstream closes have all arrived: the one counted below is this session's.
    await vi.waitFor(() => expect(upstream.closes.length).toBe(upstream.connections.length), { timeout: 3000 });
    const closesBefore = upstream.closes.length;
    const ws = await open(gateway.url, 'voice-short', KEY_A);
    const seen = watch(ws);
    const started = Date.now();
    // Busy well within the idle timeout: before, such a session lived for as long as it kept sending.
    const busy = setInterval(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' })), 100);
    try {
      const closed = await seen.closed;
      expect(closed).toEqual({ code: 1000, reason: 'maximum session duration 600ms reached' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      clearInterval(busy);
    }
    const expired = seen.events.find((e) => e.type === 'error' && e.error?.code === 'session_expired');
    expect(expired?.error?.message).toBe('the session reached its maximum duration of 600ms (route default/voice-short, spec.passThrough.realtime.maxDuration); open a new one');
    await vi.waitFor(() => expect(upstream.closes.slice(closesBefore)).toEqual([1000]));
  });

  it("a snapshot without a session's route or API key ends that session (error event session_revoked, 1008); other sessions go on", async () => {
    const onGoneRoute = await open(gateway.url, 'voice-gone', KEY_A);
    const ofGoneKey = await open(gateway.url, 'voice', KEY_GONE);
    const unaffected = await open(gateway.url, 'voice', KEY_A);
    const [gone, revoked, kept] = [watch(onGoneRoute), watch(ofGoneKey), watch(unaffected)];

    // The route is removed.
    expect(gateway.write('routes.yaml', ROUTES.join('---\n')).errors).toEqual([]);
    expect(await gone.closed).toEqual({ code: 1008, reason: 'session revoked: route removed' });
    expect(gone.events.find((e) => e.type === 'error')?.error).toMatchObject({ code: 'session_revoked', message: 'route default/voice-gone no longer serves Realtime: the session was ended' });

    // The API key Secret is deleted.
    expect(gateway.write('keys.yaml', keys(false)).errors).toEqual([]);
    expect(await revoked.closed).toEqual({ code: 1008, reason: 'session revoked: API key removed' });
    expect(revoked.events.find((e) => e.type === 'error')?.error).toMatchObject({ code: 'session_revoked' });

    // The session whose route and key are still there is served on.
    const done = new Promise<void>((resolve) => unaffected.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    unaffected.send(JSON.stringify({ type: 'response.create' }));
    await done;
    expect(unaffected.readyState).toBe(WebSocket.OPEN);
    expect(kept.events.some((e) => e.type === 'error')).toBe(false);
    unaffected.close();
    await kept.closed;
  });

  it('a GuardrailPolicy that refuses uninspected endpoints, applied while a session is open, ends it (session_revoked naming the policy, 1008); a session it does not cover goes on', async () => {
    const covered = await open(gateway.url, 'voice-guarded', KEY_A);
    const other = await open(gateway.url, 'voice-unguarded', KEY_A);
    const [guarded, kept] = [watch(covered), watch(other)];
    // Before, only a new handshake was refused (403 guardrail_uninspected): the open session ran on.
    const policy = `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: no-cards }
spec:
  subjects: { routes: [{ name: voice-guarded }] }
  rules:
    - { name: cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
`;
    expect(gateway.write('guardrails.yaml', policy).errors).toEqual([]);
    const closed = await Promise.race([guarded.closed, new Promise((r) => setTimeout(() => r('still open'), 3000))]);
    expect(closed).toEqual({ code: 1008, reason: 'session revoked: guardrail policy refuses uninspected Realtime: default/no-cards' });
    expect(guarded.events.find((e) => e.type === 'error')?.error).toEqual(
      expect.objectContaining({
        code: 'session_revoked',
        message: 'guardrail policy default/no-cards now refuses endpoint realtime on route default/voice-guarded: its rules cannot inspect a Realtime session (spec.uninspectedEndpoints: Refuse): the session was ended',
      }),
    );
    // Counted as the policy's Block, as a refused handshake is.
    expect(await metric('tollgate_guardrail_decisions_total', { policy: 'default/no-cards', action: 'Block' })).toBe(1);
    // A new session on the route is refused at the handshake, as before.
    expect(await connect(gateway.url, 'voice-guarded', KEY_A)).toMatchObject({ status: 403 });

    const done = new Promise<void>((resolve) => other.on('message', (data) => (JSON.parse(String(data)) as { type: string }).type === 'response.done' && resolve()));
    other.send(JSON.stringify({ type: 'response.create' }));
    await done;
    expect(kept.events.some((e) => e.type === 'error')).toBe(false);
    other.close();
    await kept.closed;
  });

  it("an API key newly labelled with a residency its session's Provider does not meet ends that session (session_revoked naming the policy, 1008)", async () => {
    const ws = await open(gateway.url, 'voice-unguarded', KEY_B);
    const seen = watch(ws);
    const labelled = apiKeySecretManifest('caller-b', KEY_B).replace('tollgate.dev/api-key: "true"', 'tollgate.dev/api-key: "true", require.tollgate.dev/region: eu');
    expect(gateway.write('keys.yaml', apiKeySecretManifest('caller-a', KEY_A) + labelled).errors).toEqual([]);
    const closed = await Promise.race([seen.closed, new Promise((r) => setTimeout(() => r('still open'), 3000))]);
    expect(closed).toEqual({ code: 1008, reason: 'session revoked: residency excludes provider default/openai-up' });
    expect(seen.events.find((e) => e.type === 'error')?.error?.message).toBe(
      'the residency of key:default/caller-b no longer allows provider default/openai-up; policy: API key default/caller-b requires providers labelled region=eu: the session was ended',
    );
  });
});
