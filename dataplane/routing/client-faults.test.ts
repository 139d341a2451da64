import { describe, expect, it } from 'vitest';
import { buildRuntimeSnapshot, type RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { type OutlierDetectionConfig, type ProviderConfig, type RouteConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION, type TargetConfig } from '../config/snapshot.js';
import type { CanonicalRequest, JsonObject } from '../core/canonical.js';
import { GatewayError } from '../core/gateway-error.js';
import type { Transport } from '../upstream/transport.js';
import { testRoute } from '../governance/rate-limit/test-support.js';
import { TargetHealth } from './health/target-health.js';
import { Router } from './router.js';
import { TargetStats } from './target-stats.js';
import { ClientLink } from './client-link.js';

// A client fault (a request the gateway cannot even translate) is a 400 for that client and says
// nothing about the upstream: it must not eject a target, close a half-open one, or retry. Only a
// request one target's adapter cannot express (RequestTranslationError) falls over to the next.

const outlier: OutlierDetectionConfig = { consecutiveFailures: 1, errorRateMinRequests: 1, windowMs: 60_000, baseEjectionMs: 1_000, maxEjectionMs: 10_000 };
const mock = (id: string): ProviderConfig => ({
  id,
  type: 'mock',
  endpoints: [],
  headers: {},
  connectTimeoutMs: 1_000,
  mock: { latencyMs: 0, chunkIntervalMs: 0, completionTokens: 3, failureRate: 0 },
  outlierDetection: outlier,
});
const pricing = { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 };
const primary: TargetConfig = { providerId: 'team-a/primary', model: 'cheap', priority: 0, weight: 1, pricing };
const fallback: TargetConfig = { providerId: 'team-a/fallback', model: 'expensive', priority: 1, weight: 1, pricing };
const route: RouteConfig = testRoute([], {
  targets: [primary, fallback],
  retry: { attempts: 3, on: ['ServerError', 'ConnectionError'], initialBackoffMs: 0, maxBackoffMs: 0, maxRetryAfterMs: 0 },
  fallbackOn: ['ServerError', 'ConnectionError', 'Timeout'],
  timeouts: { totalMs: 10_000, streamIdleMs: 10_000 },
});
const snapshot: Snapshot = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, version: 'v', providers: [mock('team-a/primary'), mock('team-a/fallback')], routes: [route], apiKeys: [], budgets: [], namespaces: {} };
const unusedTransport: Transport = { send: () => Promise.reject(new Error('mock providers answer in process')) };

function runtime(): RuntimeSnapshot {
  const built = buildRuntimeSnapshot(snapshot, unusedTransport);
  if (!built.ok) throw new Error(built.error);
  return built.runtime;
}

/** JSON parameters nested 50,000 deep: valid JSON the client may send, too deep to re-serialise upstream. */
function deeplyNested(depth: number): JsonObject {
  let o: JsonObject = { type: 'string' };
  for (let i = 0; i < depth; i++) o = { type: 'object', properties: { x: o } };
  return o;
}

const chat = (extra: JsonObject = {}): CanonicalRequest => ({
  op: 'chat',
  body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra },
  stream: false,
  clientWantsUsage: false,
});
const tooDeep = chat({ tools: [{ type: 'function', function: { name: 'f', parameters: deeplyNested(50_000) } }] });

async function serveError(router: Router, rt: RuntimeSnapshot, req: CanonicalRequest): Promise<GatewayError> {
  try {
    await router.serve(rt, route, req, new ClientLink());
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('served');
}

describe('client faults never touch target health', () => {
  it('a request that cannot be translated is a 400 with no upstream attempt, and the primary stays in service', async () => {
    const router = new Router({ stats: new TargetStats() });
    const rt = runtime();
    const error = await serveError(router, rt, tooDeep);
    expect(error.status).toBe(400);
    // Nothing went upstream: the attempt count says so, and no provider is named as tried.
    expect(error.headers?.['x-tollgate-attempts']).toBe('0');
    expect(error.headers?.['x-tollgate-provider']).toBeUndefined();
    expect(router.health.view(primary).state).toBe('closed');
    expect(router.health.view(fallback).state).toBe('closed');
    // The next, ordinary request is served by the primary: nobody's traffic moved to the fallback.
    const ok = await router.serve(rt, route, chat(), new ClientLink());
    expect(ok.target.providerId).toBe('team-a/primary');
  });

  it('a client fault on a half-open target is no probe result: the target is neither closed nor re-ejected', async () => {
    let now = 1_000_000;
    const health = new TargetHealth({ now: () => now });
    const router = new Router({ stats: new TargetStats(), health, now: () => now });
    health.failure(primary, outlier);
    expect(health.view(primary).state).toBe('open');
    now += 1_001;
    expect(health.view(primary).state).toBe('half_open');
    expect((await serveError(router, runtime(), tooDeep)).status).toBe(400);
    expect(health.view(primary)).toMatchObject({ state: 'half_open', ejections: 1 });
    // Its probe slot is free again for a real request, which closes it.
    expect(health.available(primary, outlier)).toBe(true);
  });

  it('an untranslatable request (RequestTranslationError) does not close a half-open target either; the next target serves it', async () => {
    let now = 1_000_000;
    const health = new TargetHealth({ now: () => now });
    const router = new Router({ stats: new TargetStats(), health, now: () => now });
    const anthropic: ProviderConfig = { id: 'team-a/primary', type: 'anthropic', endpoints: ['http://127.0.0.1:9'], headers: {}, connectTimeoutMs: 1_000, anthropic: { version: '2023-06-01', defaultMaxTokens: 64 }, outlierDetection: outlier };
    const built = buildRuntimeSnapshot({ ...snapshot, providers: [anthropic, mock('team-a/fallback')] }, unusedTransport);
    if (!built.ok) throw new Error(built.error);
    health.failure(primary, outlier);
    now += 1_001;
    const badToolCall = chat({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{not json' } }] }, { role: 'user', content: 'hi' }] });
    const served = await router.serve(built.runtime, route, badToolCall, new ClientLink());
    expect(served.target.providerId).toBe('team-a/fallback');
    expect(served.attempts.map((a) => a.failure?.message)).toEqual([expect.stringContaining('not valid JSON'), undefined]);
    expect(health.view(primary)).toMatchObject({ state: 'half_open', ejections: 1 });
  });
});
