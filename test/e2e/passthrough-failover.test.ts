import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// Pass-through failover follows the route's fallbackOn, and a request that makes something upstream
// (an image, a batch) is not sent to a second target after the first had all of it, unless the
// first said it did nothing (429, 503): before, a timeout or a 500 made the image twice, on two
// accounts, and the timed-out attempt was charged nothing.

const key = '{ secretRef: { name: up-key, key: apiKey } }';
const route = (name: string, targets: string[], extra = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets:
${targets.map((p, i) => `    - { providerRef: { name: ${p} }, model: gpt-image-1, priority: ${i * 10} }`).join('\n')}
  passThrough: { endpoints: [images, batches, moderations] }
${extra.includes('timeouts:') ? '' : '  timeouts: { total: 10s, attempt: 500ms }\n'}${extra}---
`;

let first: PassThroughEmulator;
let second: PassThroughEmulator;
let gateway: TestGateway;

beforeAll(async () => {
  [first, second] = await Promise.all([startPassThroughEmulator('sk-upstream'), startPassThroughEmulator('sk-upstream')]);
  const models = '  models: [{ name: gpt-image-1, pricing: { perImage: 0.04 } }]\n';
  gateway = await startTestGateway({
    'providers.yaml':
      providerManifest('first', 'openai', `${first.url}/v1`, key, models) +
      providerManifest('second', 'openai', `${second.url}/v1`, key, models) +
      // Nothing listens on port 9 (discard) of loopback: connections are refused.
      providerManifest('nowhere', 'openai-compatible', 'http://127.0.0.1:9/v1', key, models) +
      // The first emulator again, under other names: a route can fail over many times.
      providerManifest('first-b', 'openai', `${first.url}/v1`, key, models) +
      providerManifest('first-c', 'openai', `${first.url}/v1`, key, models) +
      providerManifest('first-d', 'openai', `${first.url}/v1`, key, models) +
      secretManifest('up-key', { apiKey: 'sk-upstream' }),
    'routes.yaml': route('media', ['first', 'second']) + route('refused-first', ['nowhere', 'second']) + route('no-fallback', ['first', 'second'], '  fallbackOn: []\n') +
      route('one-total', ['first', 'second'], '  timeouts: { total: 1s, attempt: 700ms }\n') + route('many', ['first', 'first-b', 'first-c', 'first-d', 'second']),
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([first?.close(), second?.close()]);
});

async function post(path: string, body: object, model?: string): Promise<{ status: number; attempts: string | null; provider: string | null; text: string }> {
  const headers = { 'content-type': 'application/json', ...(model === undefined ? {} : { 'x-tollgate-model': model }) };
  const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(8_000) });
  return { status: res.status, attempts: res.headers.get('x-tollgate-attempts'), provider: res.headers.get('x-tollgate-provider'), text: await res.text() };
}

const image = { model: 'media', prompt: 'a cat', n: 2 };

/** The requests each upstream was sent from now on (not a batch's input file, which is read from each target before the batch is created). */
function counts(): () => [number, number] {
  const sent = (e: PassThroughEmulator): number => e.requests.filter((r) => !r.url.endsWith('/content')).length;
  const [a, b] = [sent(first), sent(second)];
  return () => [sent(first) - a, sent(second) - b];
}

describe('pass-through failover of requests that make something', () => {
  it('a timeout after the upstream had the whole image request: 504, not sent to the next target, charged as a lost attempt', async () => {
    first.hang = true;
    try {
      const sent = counts();
      const before = gateway.usage.records.length;
      const res = await post('/v1/images/generations', image);
      expect(res.status).toBe(504);
      expect(sent()).toEqual([1, 0]);
      expect({ attempts: res.attempts, provider: res.provider }).toEqual({ attempts: '1', provider: 'default/first' });
      const records = gateway.usage.records.slice(before);
      expect(records).toMatchObject([{ providerId: 'default/first', costUsd: 0.08, estimateReason: 'lost_attempt' }]);
    } finally {
      first.hang = false;
    }
  });

  it('a 500 after it had the whole request is relayed, not failed over; a 503 or 429 (the upstream did nothing) is', async () => {
    for (const [status, expected] of [
      [500, { status: 500, sent: [1, 0] }],
      [502, { status: 502, sent: [1, 0] }],
      [503, { status: 200, sent: [1, 1] }],
      [429, { status: 200, sent: [1, 1] }],
    ] as const) {
      first.failWith = status;
      try {
        // The batch's input file, on both accounts, names the targets' model.
        for (const e of [first, second]) e.files.set('file-1', Buffer.from(`${JSON.stringify({ custom_id: '1', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-image-1', messages: [] } })}\n`));
        const sent = counts();
        const res = await post('/v1/batches', { input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' }, 'media');
        expect({ status: res.status, sent: sent() }).toEqual(expected);
      } finally {
        first.failWith = undefined;
      }
    }
  });

  it('a connection refused (nothing sent) is failed over', async () => {
    const sent = counts();
    const res = await post('/v1/images/generations', { ...image, model: 'refused-first' });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe('2');
    expect(sent()).toEqual([0, 1]);
  });

  it('a request that makes nothing (moderations) is still failed over after a 500 or a timeout', async () => {
    for (const fault of ['500', 'hang'] as const) {
      if (fault === 'hang') first.hang = true;
      else first.failWith = 500;
      try {
        const sent = counts();
        const res = await post('/v1/moderations', { model: 'media', input: 'hi' });
        expect(res.status).toBe(200);
        expect(sent()).toEqual([1, 1]);
      } finally {
        first.hang = false;
        first.failWith = undefined;
      }
    }
  });
});

describe("pass-through failover follows the route's fallbackOn", () => {
  it('fallbackOn: [] relays the first target’s 503 and its timeout, and sends nothing to the next', async () => {
    first.failWith = 503;
    try {
      const sent = counts();
      expect((await post('/v1/moderations', { model: 'no-fallback', input: 'hi' })).status).toBe(503);
      expect(sent()).toEqual([1, 0]);
    } finally {
      first.failWith = undefined;
    }
    first.hang = true;
    try {
      const sent = counts();
      expect((await post('/v1/moderations', { model: 'no-fallback', input: 'hi' })).status).toBe(504);
      expect(sent()).toEqual([1, 0]);
    } finally {
      first.hang = false;
    }
  });
});

describe("pass-through: the route's total timeout is one deadline across its targets", () => {
  it('two hung targets under a total of 1 s (attempt 700 ms): the second gets what is left, and the answer comes after about 1 s, not 1.4 s', async () => {
    first.hang = true;
    second.hang = true;
    try {
      const sent = counts();
      const started = Date.now();
      const res = await post('/v1/moderations', { model: 'one-total', input: 'hi' });
      const took = Date.now() - started;
      expect(res.status).toBe(504);
      expect(sent()).toEqual([1, 1]);
      // As on every other failover answer: before, the gateway's own 504 carried neither.
      expect({ attempts: res.attempts, provider: res.provider }).toEqual({ attempts: '2', provider: 'default/second' });
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(1_300);
      expect(JSON.parse(res.text).error.message).toMatch(/pass-through to default\/second timed out: the upstream sent nothing for \d+ ms \(the route's total timeout/);
    } finally {
      first.hang = false;
      second.hang = false;
    }
  });
});

describe('pass-through: each attempt abandoned for the next target leaves nothing on the client response', () => {
  it('four 503s then an answer: no MaxListenersExceededWarning (the proxy added close listeners to the response per attempt, 11 from the second)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    first.failWith = 503;
    try {
      const sent = counts();
      for (let i = 0; i < 3; i++) {
        const res = await post('/v1/moderations', { model: 'many', input: 'hi' });
        expect({ status: res.status, attempts: res.attempts, provider: res.provider }).toEqual({ status: 200, attempts: '5', provider: 'default/second' });
      }
      expect(sent()).toEqual([12, 3]);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
    } finally {
      first.failWith = undefined;
      process.off('warning', onWarning);
    }
  });
});
