// Test support: one streaming chat attempt of an OpenAI-compatible provider over a given transport.
import type { AttemptResult, CanonicalRequest } from '../../dataplane/core/canonical.js';
import { secret } from '../../dataplane/config/secret-value.js';
import { type ProviderConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION, type TargetConfig } from '../../dataplane/config/snapshot.js';
import { routeLimits } from '../../dataplane/config/route-limits.js';
import { testRoute } from '../../dataplane/governance/rate-limit/test-support.js';
import { buildRuntimeSnapshot } from '../../dataplane/runtime/runtime-snapshot.js';
import type { Transport } from '../../dataplane/upstream/transport.js';
import { runAttempt } from '../../dataplane/routing/attempt.js';
import { ClientLink } from '../../dataplane/routing/client-link.js';

/** The provider (its API key `apiKey`) and target a streamed chat attempt runs against. */
export function streamingProvider(apiKey: string): { provider: ProviderConfig; target: TargetConfig } {
  const provider: ProviderConfig = { id: 'team-a/openai', type: 'openai-compatible', endpoints: ['http://127.0.0.1:9/v1'], headers: {}, connectTimeoutMs: 1_000, apiKey: secret(apiKey) };
  const target: TargetConfig = { providerId: provider.id, model: 'gpt', priority: 0, weight: 1, pricing: { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 } };
  return { provider, target };
}

/** A streamed chat request ("hi") to that provider's target, its upstream answered by `transport`. */
export async function streamingAttempt(apiKey: string, transport: Transport): Promise<AttemptResult> {
  const { provider, target } = streamingProvider(apiKey);
  const snapshot: Snapshot = { schemaVersion: SNAPSHOT_SCHEMA_VERSION, version: 'v', providers: [provider], routes: [testRoute([], { targets: [target] })], apiKeys: [], budgets: [], namespaces: {} };
  const built = buildRuntimeSnapshot(snapshot, transport);
  if (!built.ok) throw new Error(built.error);
  const runtime = built.runtime.providers.get(provider.id);
  if (runtime === undefined) throw new Error('no provider');
  const req: CanonicalRequest = { op: 'chat', body: { model: 'gpt', messages: [{ role: 'user', content: 'hi' }], stream: true }, stream: true, clientWantsUsage: false };
  const limits = routeLimits({});
  return runAttempt(req, target, runtime, 'http://127.0.0.1:9/v1', new AbortController().signal, new ClientLink(), limits);
}
