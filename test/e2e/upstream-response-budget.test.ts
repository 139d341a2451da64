import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { ScriptedUpstream, type Served } from '../support/scripted-upstream.js';

const MiB = 1024 * 1024;
// Scaled down from the pod's numbers (128 MiB by default; three 60 MiB answers took a pod to 938-1,062 MiB):
// three answers of 12 MiB (well past RESERVE_FROM_BYTES, 256 KiB), two of which do not fit in 20 MiB at once.
const BUDGET = 20 * MiB;
const ANSWER = 12 * MiB;

const answer = (bytes: number): Buffer => {
  const head = '{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"';
  const tail = '"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}';
  return Buffer.from(head + 'x'.repeat(bytes - head.length - tail.length) + tail);
};

const route = (name: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
  timeouts: { total: 30s }
`;

let upstream: ScriptedUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = new ScriptedUpstream();
  await upstream.start();
  gateway = await startTestGateway({ 'providers.yaml': openAiProvider('up', upstream.url), 'routes.yaml': route('big') }, { maxInflightResponseBytes: BUDGET });
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

async function ask(): Promise<{ status: number; retryAfter: string | null; code?: string; length?: number }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as { error?: { code: string }; choices?: { message: { content: string } }[] };
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    ...(body.error === undefined ? {} : { code: body.error.code }),
    ...(body.choices === undefined ? {} : { length: body.choices[0]?.message.content.length }),
  };
}

/**
 * Every answer starts (headers and its first 64 KiB), then waits until all three requests are in and
 * the gateway has hung up on one of them (or 1.5 s, as it did before the budget), then ends.
 */
function scriptThree(declareLength: boolean): void {
  const body = answer(ANSWER);
  const started: { res: ServerResponse; served: Served }[] = [];
  let release: () => void = () => undefined;
  const allStarted = new Promise<void>((resolve) => {
    release = resolve;
  });
  upstream.handler = async (_req, res, served) => {
    res.writeHead(200, { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(body.length) } : {}) });
    res.write(body.subarray(0, 64 * 1024));
    started.push({ res, served });
    if (started.length === 3) release();
    await allStarted;
    for (let i = 0; i < 30 && !started.some((s) => s.served.cut); i++) await new Promise((r) => setTimeout(r, 50));
    if (!res.destroyed) res.end(body.subarray(64 * 1024));
  };
}

describe('the process-wide budget for large upstream answers read whole', () => {
  for (const declareLength of [true, false]) {
    it(`refuses what does not fit with 503 upstream_responses_over_capacity and serves the rest (${declareLength ? 'content-length taken at once' : 'chunked, taken as it arrives'})`, async () => {
      upstream.served.length = 0;
      scriptThree(declareLength);
      const results = await Promise.all([ask(), ask(), ask()]);
      const refused = results.filter((r) => r.status === 503);
      const served = results.filter((r) => r.status === 200);
      // Before, all three were read at once (36 MiB here; three 60 MiB answers took a 1 GiB pod to 938-1,062 MiB).
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(served.length).toBeGreaterThanOrEqual(1);
      expect(refused.length + served.length).toBe(3);
      for (const r of refused) expect(r).toMatchObject({ code: 'upstream_responses_over_capacity', retryAfter: '1' });
      for (const r of served) expect(r.length).toBeGreaterThan(ANSWER - 1024);
      // Not retried: one upstream request per client request.
      expect(upstream.served).toHaveLength(3);
    });
  }

  it('gives the bytes back once each reply is written: answers one after the other are all served', async () => {
    const body = answer(ANSWER);
    upstream.handler = async (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    for (let i = 0; i < 4; i++) expect((await ask()).status).toBe(200);
  });
});
