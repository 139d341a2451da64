import { once } from 'node:events';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../operator/tls/certificates.js';
import { readCaFile } from '../config/tls-files.js';
import { Dataplane } from './dataplane.js';

// With tls.certManager the pod trusts the operator through ca.crt of its mounted Secret
// (--operator-ca). Read only at start, a CA rotation (cert-manager re-issuing the operator's
// certificate from a new CA) broke snapshot pulls and usage reports until the pod restarted.

const name = 'tollgate-operator.ns.svc';
const dir = mkdtempSync(join(tmpdir(), 'tollgate-ca-follow-'));
const caFile = join(dir, 'ca.crt');
const writeCa = (pem: string): void => {
  writeFileSync(`${caFile}.new`, pem);
  renameSync(`${caFile}.new`, caFile);
};

describe('data plane trusting the operator through a CA file', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('trusts a rotated CA without a restart, and the previous one until the next rotation', async () => {
    const [ca1, ca2, ca3] = [createCa('ca-follow-1', 30), createCa('ca-follow-2', 30), createCa('ca-follow-3', 30)];
    const leaf = (ca: typeof ca1) => issueCertificate(ca, name, [name, '127.0.0.1'], 10);
    // The operator, already re-issued from the new CA; it counts the pulls that got through TLS.
    let pulls = 0;
    const operator: Server = createServer(leaf(ca2), (_req, res) => {
      pulls++;
      res.writeHead(404).end('{}');
    });
    operator.listen(0, '127.0.0.1');
    await once(operator, 'listening');
    cleanup.push(() => {
      operator.closeAllConnections();
      operator.close();
    });
    const serve = (ca: typeof ca1): void => {
      operator.setSecureContext(leaf(ca));
      operator.closeAllConnections();
    };

    writeCa(ca1.cert);
    const dp = new Dataplane({
      host: '127.0.0.1',
      port: 0,
      drainTimeoutMs: 100,
      logger: pino({ level: 'silent' }),
      admin: { host: '127.0.0.1', port: 0, token: 't'.repeat(32) },
      operatorUrl: `https://127.0.0.1:${(operator.address() as AddressInfo).port}`,
      operatorServerName: name,
      operatorCa: { ...readCaFile(caFile), intervalMs: 20 },
    });
    cleanup.push(() => dp.shutdown());
    await dp.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(pulls).toBe(0);

    // The pod's Secret is re-issued too: ca.crt now holds the new CA.
    writeCa(ca2.cert);
    await expect.poll(() => pulls, { timeout: 8_000, interval: 25 }).toBeGreaterThan(0);
    // A peer still presenting a certificate of the previous CA is trusted during the overlap.
    serve(ca1);
    let before = pulls;
    await expect.poll(() => pulls, { timeout: 8_000, interval: 25 }).toBeGreaterThan(before);
    // The next rotation ends the overlap: the CA before the previous one is no longer trusted.
    writeCa(ca3.cert);
    await new Promise((r) => setTimeout(r, 200));
    serve(ca1);
    before = pulls;
    await new Promise((r) => setTimeout(r, 6_000));
    expect(pulls).toBe(before);
    serve(ca3);
    await expect.poll(() => pulls, { timeout: 8_000, interval: 25 }).toBeGreaterThan(before);
  }, 40_000);
});
