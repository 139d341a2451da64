import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { once } from 'node:events';
import { request } from 'node:https';
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MALFORMED_KUBECONFIG, MALFORMED_KUBECONFIG_REASON } from '../test/fixtures/kubeconfig/malformed.js';
import { type OperatorConfig, runOperator } from './operator.js';

/** An operator of the kubeconfig at `path`, listening on loopback `port`. */
function operatorConfig(path: string, port: number): OperatorConfig {
  return {
    kubeconfig: path,
    watchNamespaces: [],
    dataplane: { namespace: 'tollgate', service: 'tollgate-dataplane', adminPortName: 'admin' },
    token: 'admin-token',
    identity: 'operator-0',
    lease: { namespace: 'tollgate', name: 'tollgate-operator', durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    listen: { host: '127.0.0.1', port },
    apiKeyHashSecret: { namespace: 'tollgate', name: 'tollgate-api-key-hash' },
    debounceMs: 100,
    maxWaitMs: 1_000,
    logger: pino({ level: 'silent' }),
  };
}

describe('runOperator', () => {
  it('a --kubeconfig that is not valid YAML is reported by its reason and position, never the lines around it (its token)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-operator-'));
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, MALFORMED_KUBECONFIG);
      const started = runOperator(operatorConfig(path, 0));
      await expect(started).rejects.toThrow(new Error(`${path}: not valid YAML: ${MALFORMED_KUBECONFIG_REASON}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    { tls: false },
    // Managed TLS: its certificate is in a Secret not read yet; a throwaway one serves the probes.
    { tls: true },
  ])('answers its probes while the API server cannot be reached at start: alive, not ready, silent connections closed (TLS: $tls)', async ({ tls }) => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-operator-'));
    // A port nothing listens on: the API server refuses every connection.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const deadPort = (probe.address() as { port: number }).port;
    const listen = createServer().listen(0, '127.0.0.1');
    await once(listen, 'listening');
    const port = (listen.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    await new Promise((r) => listen.close(r));
    const abort = new AbortController();
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(
        path,
        `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "http://127.0.0.1:${deadPort}" } }]\nusers: [{ name: u, user: { token: x } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n`,
      );
      const started = runOperator({
        ...operatorConfig(path, port),
        // The chart's flags: both are read from the API server before anything else.
        ownerServiceAccount: 'tollgate-operator',
        signal: abort.signal,
        listen: { host: '127.0.0.1', port, headersTimeoutMs: 300 },
        ...(tls
          ? { managedTls: { namespace: 'tollgate', caSecret: 'tollgate-ca', dataplaneSecret: 'tollgate-dataplane-tls', dataplaneNames: ['tollgate-dataplane'], operatorNames: ['tollgate-operator'] } }
          : {}),
      });
      started.catch(() => undefined);
      const get = async (p: string): Promise<number | string> => {
        const end = Date.now() + 2_000;
        for (;;) {
          try {
            if (!tls) return (await fetch(`http://127.0.0.1:${port}${p}`)).status;
            // As the kubelet probes: HTTPS without verifying the certificate.
            return await new Promise<number>((resolve, reject) => {
              request({ host: '127.0.0.1', port, path: p, rejectUnauthorized: false }, (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
              })
                .on('error', reject)
                .end();
            });
          } catch (err) {
            if (Date.now() > end) return (err as Error).message;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      expect(await get('/healthz')).toBe(200);
      expect(await get('/readyz')).toBe(503);
      // A connection that sends no request (TLS: not even a handshake) is closed once the headers
      // timeout passes: before, node held it open for ever, without a token.
      const silent = connect(port, '127.0.0.1');
      silent.on('error', () => undefined).resume();
      const closed = await Promise.race([once(silent, 'close').then(() => 'closed'), new Promise((r) => setTimeout(() => r('open'), 3_000))]);
      silent.destroy();
      expect(closed).toBe('closed');
      abort.abort();
      await expect(started).rejects.toThrow();
    } finally {
      abort.abort();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
