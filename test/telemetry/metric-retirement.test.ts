import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { type MetricFamily, parsePrometheusText, samples, value } from './prom-text.js';

const GRACE_MS = 1500;
const route = (name: string, model: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${model}
  targets:
    - { providerRef: { name: up }, model: up-${name} }
`;

let upstream: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(
    { 'up.yaml': openAiProvider('up', upstream.baseUrl), 'a.yaml': route('a', 'chat-a'), 'b.yaml': route('b', 'chat-b') },
    { admin: true, metricSeriesGraceMs: GRACE_MS },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${gateway.adminUrl as string}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

async function chat(model: string): Promise<void> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.text();
  expect(res.status).toBe(200);
}

/** Every sample of every family that names `routeId`. */
const naming = (m: Map<string, MetricFamily>, routeId: string): string[] =>
  [...m.values()].flatMap((f) => f.samples.filter((s) => s.labels.route === routeId).map((s) => s.name));

describe('metric series of a deleted route', () => {
  it('are shown for the grace period after the route is gone, then dropped, while the other routes keep their counts', async () => {
    await chat('chat-a');
    await chat('chat-b');
    await chat('chat-b');
    const before = await scrape();
    expect(naming(before, 'default/a')).toEqual(expect.arrayContaining(['tollgate_requests_total', 'tollgate_tokens_total', 'tollgate_upstream_attempts_total', 'tollgate_upstream_duration_seconds_count']));
    expect(value(before, 'tollgate_requests_total', { route: 'default/b', status_class: '2xx' })).toBe(2);

    // Route a is replaced by route c: a is gone from the snapshot.
    const replacedAt = Date.now();
    expect(gateway.write('a.yaml', route('c', 'chat-c')).errors).toEqual([]);
    const right = await scrape();
    // Its last increments stay visible until Prometheus has had time to scrape them.
    if (Date.now() - replacedAt < GRACE_MS) expect(value(right, 'tollgate_requests_total', { route: 'default/a', status_class: '2xx' })).toBe(1);

    await new Promise((r) => setTimeout(r, GRACE_MS + 50 - (Date.now() - replacedAt)));
    const after = await scrape();
    expect(naming(after, 'default/a')).toEqual([]);
    for (const family of after.values()) for (const s of family.samples) expect(s.labels.upstream_model).not.toBe('up-a');
    expect(value(after, 'tollgate_requests_total', { route: 'default/b', status_class: '2xx' })).toBe(2);
    expect(value(after, 'tollgate_tokens_total', { route: 'default/b', type: 'input' })).toBeGreaterThan(0);

    // Route b's series go on counting, and the new route's start.
    await chat('chat-b');
    await chat('chat-c');
    const later = await scrape();
    expect(value(later, 'tollgate_requests_total', { route: 'default/b', status_class: '2xx' })).toBe(3);
    expect(value(later, 'tollgate_requests_total', { route: 'default/c', status_class: '2xx' })).toBe(1);
    expect(samples(later, 'tollgate_circuit_breaker_state', { upstream_model: 'up-a' })).toHaveLength(0);
  });
});
