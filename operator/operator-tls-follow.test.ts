import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { readTlsFiles } from '../dataplane/config/tls-files.js';
import { listenFirst } from './operator.js';
import { createCa, issueCertificate } from './tls/certificates.js';

// With tls.certManager the operator's certificate (--tls-cert, --tls-key) is a mounted Secret that
// cert-manager renews. Read only at start, the operator served it until it expired; from then on no
// data plane could pull a snapshot or report usage to it.

describe('operator port with certificate files', () => {
  it('serves a renewed certificate without a restart', async () => {
    const ca = createCa('operator-tls-follow-ca', 30);
    const name = 'tollgate-operator.ns.svc';
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-operator-tls-follow-'));
    const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), intervalMs: 20 };
    const write = (pair: { cert: string; key: string }): void => {
      for (const [path, content] of [
        [files.cert, pair.cert],
        [files.key, pair.key],
      ] as const) {
        writeFileSync(`${path}.new`, content);
        renameSync(`${path}.new`, path);
      }
    };
    const first = issueCertificate(ca, name, [name], 10);
    write(first);
    const { server, stopTlsFollow } = await listenFirst({ listen: { host: '127.0.0.1', port: 0, tls: readTlsFiles(files) }, logger: pino({ level: 'silent' }) });
    const { port } = server.address() as AddressInfo;
    const served = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername: name, ca: ca.cert }, () => {
          resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
          socket.end();
        });
        socket.on('error', reject);
      });
    try {
      expect(await served()).toBe(new X509Certificate(first.cert).serialNumber);
      const renewed = issueCertificate(ca, name, [name], 10);
      write(renewed);
      await expect.poll(served, { timeout: 5_000, interval: 25 }).toBe(new X509Certificate(renewed.cert).serialNumber);
    } finally {
      stopTlsFollow();
      server.closeAllConnections();
      server.close();
    }
  });
});
