import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../operator/tls/certificates.js';
import { readTlsFiles } from '../config/tls-files.js';
import { Dataplane } from './dataplane.js';

// With tls.certManager the admin port's certificate is a mounted Secret that cert-manager renews
// (by default every 60 days, each valid 90). Read only at start, a pod served the old certificate
// until it expired, and from then on the operator could not push to it.

const ca = createCa('tls-follow-ca', 30);
const names = ['tollgate-dataplane.ns.svc', '127.0.0.1'];
const dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-follow-'));
const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), intervalMs: 20 };

/** Writes the pair as the kubelet updates a Secret volume: each file replaced at once. */
function writePair(pair: { cert: string; key: string }): void {
  for (const [path, content] of [
    [files.cert, pair.cert],
    [files.key, pair.key],
  ] as const) {
    writeFileSync(`${path}.new`, content);
    renameSync(`${path}.new`, path);
  }
}

/** The serial number of the certificate the admin port presents now. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: names[0], ca: ca.cert }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

const serial = (pem: string): string => new X509Certificate(pem).serialNumber;

describe('data-plane admin port with certificate files', () => {
  let dp: Dataplane | undefined;
  afterAll(async () => {
    await dp?.shutdown();
  });

  it('serves a renewed certificate without a restart, and keeps the last good one when the files are not a pair', async () => {
    const first = issueCertificate(ca, names[0] ?? '', names, 10);
    writePair(first);
    dp = new Dataplane({ host: '127.0.0.1', port: 0, drainTimeoutMs: 100, logger: pino({ level: 'silent' }), admin: { host: '127.0.0.1', port: 0, token: 't'.repeat(32), tls: readTlsFiles(files) } });
    await dp.start();
    const port = dp.adminAddress?.port ?? 0;
    expect(await servedSerial(port)).toBe(serial(first.cert));

    const renewed = issueCertificate(ca, names[0] ?? '', names, 10);
    writePair(renewed);
    await expect.poll(() => servedSerial(port), { timeout: 5_000, interval: 25 }).toBe(serial(renewed.cert));

    // A certificate with another certificate's key (caught between two updates): not applied.
    const other = issueCertificate(ca, names[0] ?? '', names, 10);
    writePair({ cert: other.cert, key: renewed.key });
    await new Promise((r) => setTimeout(r, 200));
    expect(await servedSerial(port)).toBe(serial(renewed.cert));
    writePair(other);
    await expect.poll(() => servedSerial(port), { timeout: 5_000, interval: 25 }).toBe(serial(other.cert));
  });
});
