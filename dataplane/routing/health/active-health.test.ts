import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../../operator/compile/compile.js';
import { provider, route } from '../../../test/support/objects.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../../../test/support/openai-upstream.js';
import type { TargetConfig } from '../../config/snapshot.js';
import { buildRuntimeSnapshot, type RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import type { Transport } from '../../upstream/transport.js';
import { ActiveHealthChecker } from './active-health.js';
import { TargetHealth } from './target-health.js';

const noTransport: Transport = { send: () => Promise.reject(new Error('no upstream in this test')) };
const target = (providerId: string): TargetConfig => ({ providerId, model: 'm', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } });
/** Probed once (the interval outlasts the test); one failure marks the provider down. */
const healthCheck = { enabled: true, path: '/models', interval: '1h', timeout: '5s', unhealthyThreshold: 1, healthyThreshold: 1 };

function runtime(providers: { name: string; url: string }[]): RuntimeSnapshot {
  // Only Providers a route names are published.
  const routes = [route('chat', { model: 'chat', targets: providers.map((p) => ({ providerRef: { name: p.name }, model: 'm' })) })];
  const { snapshot } = compile({ providers: providers.map((p) => provider(p.name, { type: 'openai-compatible', url: p.url, healthCheck })), routes, budgets: [], secrets: [] });
  const built = buildRuntimeSnapshot(snapshot, noTransport);
  if (!built.ok) throw new Error(built.error);
  return built.runtime;
}

describe('active health checks', () => {
  let upstream: OpenAiUpstream;
  let checker: ActiveHealthChecker;
  const health = new TargetHealth();

  beforeAll(async () => {
    upstream = await startOpenAiUpstream();
    checker = new ActiveHealthChecker(health, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await checker?.close();
    await upstream?.close();
  });

  it('a probe never connects to a link-local (cloud instance-metadata) address: the egress guard refuses it; others are probed as before', async () => {
    // fe80::1 without a zone cannot be connected to at all (EINVAL): no packet could leave even without the guard.
    checker.sync(runtime([{ name: 'metadata', url: 'http://[fe80::1]:9/v1' }, { name: 'loopback', url: upstream.baseUrl }]));
    await expect.poll(() => health.view(target('default/metadata')).activeFailure).toBe('GET /models failed: refused to connect to fe80::1: a link-local or cloud instance-metadata address');
    await expect.poll(() => upstream.requests.map((r) => r.path)).toEqual(['/v1/models']);
    expect(upstream.requests[0]?.headers.authorization).toBeUndefined();
    expect(health.view(target('default/loopback')).state).toBe('closed');
  });
});
