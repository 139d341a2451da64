import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import type { ReviewResult, TokenReviewer } from '../../dataplane/governance/identity/token-reviewer.js';
import { type RealtimeEmulator, startRealtimeEmulator } from '../emulators/realtime.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// A ServiceAccount's Realtime session ends when its token expires: the token is verified by
// TokenReview at the handshake only. Before, the session outlived its token up to maxDuration.

/** Accepts every token as ServiceAccount default/voice-sa (TokenReview's answer for a valid token). */
class AcceptingReviewer implements TokenReviewer {
  reviews = 0;
  review(): Promise<ReviewResult> {
    this.reviews++;
    return Promise.resolve({ authenticated: true, username: 'system:serviceaccount:default:voice-sa', audiences: ['tollgate'] });
  }
}

/** A token of audience tollgate expiring at `exp` (seconds), or without exp; its signature is TokenReview's business. */
const token = (exp: number | undefined): string =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: ['tollgate'], sub: 'system:serviceaccount:default:voice-sa', ...(exp === undefined ? {} : { exp }) })).toString('base64url')}.c2ln`;

function open(gatewayUrl: string, bearer: string): Promise<WebSocket> {
  const ws = new WebSocket(`${gatewayUrl.replace('http', 'ws')}/v1/realtime?model=voice`, { headers: { authorization: `Bearer ${bearer}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode ?? 0}`)));
    ws.once('error', reject);
  });
}

function watch(ws: WebSocket): { events: { type: string; error?: { code: string; message: string } }[]; closed: Promise<{ code: number; reason: string; at: number }> } {
  const events: { type: string; error?: { code: string; message: string } }[] = [];
  ws.on('message', (data, binary) => {
    if (!binary) events.push(JSON.parse(String(data)) as { type: string });
  });
  const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason), at: Date.now() }));
  return { events, closed };
}

describe('Realtime session of a ServiceAccount token', () => {
  let upstream: RealtimeEmulator;
  let gateway: TestGateway;
  const reviewer = new AcceptingReviewer();

  beforeAll(async () => {
    upstream = await startRealtimeEmulator('sk-upstream');
    gateway = await startTestGateway(
      {
        'all.yaml':
          providerManifest('up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }') +
          secretManifest('up-key', { apiKey: 'sk-upstream' }) +
          `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: voice }
spec:
  model: voice
  targets: [{ providerRef: { name: up }, model: gpt-realtime }]
  passThrough: { endpoints: [realtime], realtime: { maxDuration: 10s } }
`,
      },
      { auth: new Authenticator({ reviewer }) },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('ends at the token’s exp: an error event (token_expired), then 1008 on the client and 1000 upstream, not at maxDuration', async () => {
    const closesBefore = upstream.closes.length;
    const exp = Math.ceil(Date.now() / 1000) + 1;
    const ws = await open(gateway.url, token(exp));
    const seen = watch(ws);
    // Busy within the idle timeout, as a live voice session is.
    const busy = setInterval(() => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' })), 100);
    try {
      const closed = await Promise.race([seen.closed, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 4000))]);
      expect(closed).toMatchObject({ code: 1008, reason: 'ServiceAccount token expired' });
      // Not before the token's expiry (timers may fire a few ms early).
      expect((closed as { at: number }).at).toBeGreaterThanOrEqual(exp * 1000 - 20);
    } finally {
      clearInterval(busy);
    }
    // (The emulator answers each audio append with an error of its own: the gateway's is the one with a code.)
    expect(seen.events.find((e) => e.type === 'error' && e.error?.code !== undefined)?.error).toEqual({
      type: 'invalid_request_error',
      code: 'token_expired',
      message: `the ServiceAccount token of this session (sa:default/voice-sa) expired at ${new Date(exp * 1000).toISOString()}: the session was ended; reconnect with a fresh token`,
      param: null,
      event_id: null,
    });
    // Reviewed once, at the handshake: never per message.
    expect(reviewer.reviews).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(upstream.closes.slice(closesBefore)).toEqual([1000]);
  });

  it('a token without exp (a legacy Secret token) lives to maxDuration as before', async () => {
    const ws = await open(gateway.url, token(undefined));
    const seen = watch(ws);
    await new Promise((r) => setTimeout(r, 300));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect((await seen.closed).code).toBe(1005);
  });
});
