import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MALFORMED_KUBECONFIG, MALFORMED_KUBECONFIG_REASON } from '../test/fixtures/kubeconfig/malformed.js';
import { runOperator } from './operator.js';

describe('runOperator', () => {
  it('a --kubeconfig that is not valid YAML is reported by its reason and position, never the lines around it (its token)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-operator-'));
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, MALFORMED_KUBECONFIG);
      const started = runOperator({
        kubeconfig: path,
        watchNamespaces: [],
        dataplane: { namespace: 'tollgate', service: 'tollgate-dataplane', adminPortName: 'admin' },
        token: 'admin-token',
        identity: 'operator-0',
        lease: { namespace: 'tollgate', name: 'tollgate-operator', durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
        listen: { host: '127.0.0.1', port: 0 },
        apiKeyHashSecret: { namespace: 'tollgate', name: 'tollgate-api-key-hash' },
        debounceMs: 100,
        maxWaitMs: 1_000,
        logger: pino({ level: 'silent' }),
      });
      await expect(started).rejects.toThrow(new Error(`${path}: not valid YAML: ${MALFORMED_KUBECONFIG_REASON}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
