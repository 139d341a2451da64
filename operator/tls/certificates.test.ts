import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createCa, isCurrent, issueCertificate } from './certificates.js';

const ca = createCa('tollgate-channel-ca.test', 3650);
const leaf = issueCertificate(ca, 'tollgate-dataplane.ns.svc', ['tollgate-dataplane.ns.svc', 'tollgate-dataplane.ns.svc.cluster.local', '127.0.0.1', '::1'], 3650);

describe('channel certificates (node:crypto only)', () => {
  it('makes a CA and a serving certificate that X.509 parsers accept, with the names asked for', () => {
    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(leaf.cert);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:tollgate-dataplane.ns.svc, DNS:tollgate-dataplane.ns.svc.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(isCurrent(leaf.cert, ca.cert, 30)).toBe(true);
    expect(isCurrent(leaf.cert, createCa('other', 1).cert, 30)).toBe(false);
    expect(isCurrent(issueCertificate(ca, 'short', ['x'], 10).cert, ca.cert, 30)).toBe(false);
  });

  it('serves TLS that a client trusting the CA verifies by name, and that a client trusting another CA or name refuses', async () => {
    const server = createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const ok = await request(url, { dispatcher: new Agent({ connect: { ca: ca.cert, servername: 'tollgate-dataplane.ns.svc' } }) });
      expect(await ok.body.text()).toBe('ok');
      await expect(request(url, { dispatcher: new Agent({ connect: { ca: ca.cert, servername: 'other.ns.svc' } }) })).rejects.toThrow(/altnames/);
      await expect(request(url, { dispatcher: new Agent({ connect: { ca: createCa('rogue', 1).cert, servername: 'tollgate-dataplane.ns.svc' } }) })).rejects.toThrow();
    } finally {
      server.close();
    }
  });
});
