import { describe, expect, it, vi } from 'vitest';
import { type Snapshot, SNAPSHOT_SCHEMA_VERSION } from '../config/snapshot.js';
import type { Transport } from '../upstream/transport.js';
import { testRoute } from '../governance/rate-limit/test-support.js';
import { buildRuntimeSnapshot } from './runtime-snapshot.js';

const noTransport: Transport = { send: () => Promise.reject(new Error('unused')) };

function snapshotOf(models: string[]): Snapshot {
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    version: 'v',
    providers: [{ id: 'team-a/self-hosted', type: 'mock', endpoints: [], headers: {}, connectTimeoutMs: 1, mock: { latencyMs: 0, chunkIntervalMs: 0, completionTokens: 1, failureRate: 0 } }],
    routes: models.map((model) => testRoute([], { id: `team-a/${model}`, model })),
    apiKeys: [],
    budgets: [],
    namespaces: {},
  };
}

describe('the model list order', () => {
  it("sorts plain model ids without localeCompare (its first call keeps ICU's collator resident, ~3 MiB), others as localeCompare does", () => {
    const spy = vi.spyOn(String.prototype, 'localeCompare');
    try {
      const plain = buildRuntimeSnapshot(snapshotOf(['model-9', 'emu', 'model-10', 'llama-3.1-8b', 'a.b', 'a-b']), noTransport);
      if (!plain.ok) throw new Error(plain.error);
      expect(plain.runtime.models.map((m) => m.id)).toEqual(['a-b', 'a.b', 'emu', 'llama-3.1-8b', 'model-10', 'model-9']);
      expect(spy).not.toHaveBeenCalled();
      // Case and '_' are ordered by ICU (a < B < c; '_' before '-'), as before.
      const mixed = buildRuntimeSnapshot(snapshotOf(['c', 'B', 'a', 'x-1', 'x_1']), noTransport);
      if (!mixed.ok) throw new Error(mixed.error);
      expect(mixed.runtime.models.map((m) => m.id)).toEqual(['a', 'B', 'c', 'x_1', 'x-1']);
    } finally {
      spy.mockRestore();
    }
  });
});
