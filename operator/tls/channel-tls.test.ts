import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeClient } from '../kube/kube-client.js';
import { createCa } from './certificates.js';
import { ensureChannelTls, followChannelCa, type ManagedTlsConfig, serviceNames } from './channel-tls.js';

/** Secrets GET and POST in memory: what ensureChannelTls calls. */
function fakeSecrets(initial: Record<string, Record<string, string>> = {}, store = new Map<string, Record<string, string>>()): KubeClient {
  for (const [name, data] of Object.entries(initial)) store.set(name, Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])));
  const api = {
    async request(method: string, path: string, body?: { metadata: { name: string }; data: Record<string, string> }): Promise<unknown> {
      if (method === 'POST' && body !== undefined) {
        store.set(body.metadata.name, body.data);
        return body;
      }
      const data = store.get(path.split('/').pop() ?? '');
      if (data === undefined) throw new KubeError(404, `GET ${path}: 404`);
      return { data };
    },
  };
  return api as unknown as KubeClient;
}

/** The CN's value in bytes, as encoded in the certificate (X509Certificate.subject is `CN=<value>`). */
const cnBytes = (cert: X509Certificate): number => Buffer.byteLength(cert.subject.replace(/^CN=/, ''), 'utf8');

const NAMESPACE = 'n'.repeat(50);
const config = (): ManagedTlsConfig => ({
  namespace: NAMESPACE,
  caSecret: 'tollgate-ca',
  dataplaneSecret: 'tollgate-dataplane-tls',
  dataplaneNames: serviceNames('tollgate-dataplane', NAMESPACE),
  operatorNames: serviceNames('tollgate-operator', NAMESPACE),
});

async function handshake(cert: string, key: string, ca: string, servername: string): Promise<boolean> {
  const server = createServer({ cert, key }, (_req, res) => res.end()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ca, servername });
    await once(socket, 'secureConnect');
    const ok = socket.authorized;
    socket.destroy();
    return ok;
  } finally {
    server.close();
  }
}

describe('managed channel TLS', () => {
  it('keeps every CN within the 64 bytes of RFC 5280 with a 50-character namespace, and the full Service names in the SANs', async () => {
    const client = fakeSecrets();
    const tls = await ensureChannelTls(client, config(), pino({ level: 'silent' }), new AbortController().signal);
    const dpSecret = (await client.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/tollgate-dataplane-tls`)).data;
    const dpPem = Buffer.from(dpSecret['tls.crt'] ?? '', 'base64').toString();
    const dpKey = Buffer.from(dpSecret['tls.key'] ?? '', 'base64').toString();
    const ca = new X509Certificate(tls.ca);
    const dataplane = new X509Certificate(dpPem);
    const operator = new X509Certificate(tls.operator.cert);
    for (const cert of [ca, dataplane, operator]) expect(cnBytes(cert), cert.subject).toBeLessThanOrEqual(64);
    expect(dataplane.subject).toBe('CN=tollgate-dataplane');
    expect(operator.subject).toBe('CN=tollgate-operator');
    for (const [cert, service] of [[dataplane, 'tollgate-dataplane'], [operator, 'tollgate-operator']] as const) {
      expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
      for (const name of serviceNames(service, NAMESPACE)) expect(cert.checkHost(name), name).toBe(name);
    }
    expect(await handshake(dpPem, dpKey, tls.ca, `tollgate-dataplane.${NAMESPACE}.svc`)).toBe(true);
    expect(await handshake(tls.operator.cert, tls.operator.key, tls.ca, `tollgate-operator.${NAMESPACE}.svc`)).toBe(true);
  });

  // Before, the CA Secret was read only at start: deleting the Secrets (the rotation) needed an
  // operator restart, after which it trusted the new CA alone (pushes to pods still serving a
  // certificate of the old one failed), and its other replicas kept the old CA until restarted.
  it('follows a rotation: remakes the deleted Secrets, trusts the new CA with the previous one at once, serves a certificate of the new one later', async () => {
    const store = new Map<string, Record<string, string>>();
    const client = fakeSecrets({}, store);
    const tls = await ensureChannelTls(client, config(), pino({ level: 'silent' }), new AbortController().signal);
    const pem = (secret: string, key: string): string => Buffer.from(store.get(secret)?.[key] ?? '', 'base64').toString();
    const oldLeaf = { cert: pem('tollgate-dataplane-tls', 'tls.crt'), key: pem('tollgate-dataplane-tls', 'tls.key') };
    const trusted: string[] = [];
    const served: { cert: string; key: string }[] = [];
    const stop = followChannelCa(client, { ...config(), followIntervalMs: 20, serveRotatedAfterMs: 200 }, tls.ca, { trust: (b) => trusted.push(b), serve: (c) => served.push(c) }, pino({ level: 'silent' }));
    try {
      await new Promise((r) => setTimeout(r, 80));
      expect(trusted).toEqual([]); // nothing changed
      store.delete('tollgate-ca');
      store.delete('tollgate-dataplane-tls');
      await expect.poll(() => trusted.length, { timeout: 2_000 }).toBe(1);
      const newCa = pem('tollgate-ca', 'tls.crt');
      expect(newCa).not.toBe('');
      expect(newCa).not.toBe(tls.ca);
      const newLeaf = { cert: pem('tollgate-dataplane-tls', 'tls.crt'), key: pem('tollgate-dataplane-tls', 'tls.key') };
      const bundle = trusted[0] ?? '';
      // Pods still serving the old certificate, and those serving the new one, both verify.
      expect(await handshake(oldLeaf.cert, oldLeaf.key, bundle, `tollgate-dataplane.${NAMESPACE}.svc`)).toBe(true);
      expect(await handshake(newLeaf.cert, newLeaf.key, bundle, `tollgate-dataplane.${NAMESPACE}.svc`)).toBe(true);
      expect(served).toEqual([]); // not yet: the running pods do not trust the new CA yet
      await expect.poll(() => served.length, { timeout: 2_000 }).toBe(1);
      const operator = served[0] ?? { cert: '', key: '' };
      expect(await handshake(operator.cert, operator.key, newCa, `tollgate-operator.${NAMESPACE}.svc`)).toBe(true);
      await new Promise((r) => setTimeout(r, 80));
      expect(trusted).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('serves a certificate of a CA whose Secret was deleted alone only once the data planes have a certificate of it (their Secret deleted too)', async () => {
    const store = new Map<string, Record<string, string>>();
    const client = fakeSecrets({}, store);
    const tls = await ensureChannelTls(client, config(), pino({ level: 'silent' }), new AbortController().signal);
    const trusted: string[] = [];
    const served: { cert: string; key: string }[] = [];
    const stop = followChannelCa(client, { ...config(), followIntervalMs: 20, serveRotatedAfterMs: 60 }, tls.ca, { trust: (b) => trusted.push(b), serve: (c) => served.push(c) }, pino({ level: 'silent' }));
    try {
      store.delete('tollgate-ca');
      await expect.poll(() => trusted.length, { timeout: 2_000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(served).toEqual([]); // the pods' ca.crt is still the old CA alone
      store.delete('tollgate-dataplane-tls');
      await expect.poll(() => served.length, { timeout: 2_000 }).toBe(1);
      const newCa = Buffer.from(store.get('tollgate-ca')?.['tls.crt'] ?? '', 'base64').toString();
      const operator = served[0] ?? { cert: '', key: '' };
      expect(await handshake(operator.cert, operator.key, newCa, `tollgate-operator.${NAMESPACE}.svc`)).toBe(true);
      expect(trusted).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('still issues verifiable certificates from a CA made before, whose CN was longer than 64 bytes', async () => {
    const old = createCa(`tollgate-channel-ca.${NAMESPACE}`, 3650);
    const tls = await ensureChannelTls(fakeSecrets({ 'tollgate-ca': { 'tls.crt': old.cert, 'tls.key': old.key } }), config(), pino({ level: 'silent' }), new AbortController().signal);
    const operator = new X509Certificate(tls.operator.cert);
    expect(operator.checkIssued(new X509Certificate(old.cert))).toBe(true);
    expect(await handshake(tls.operator.cert, tls.operator.key, old.cert, `tollgate-operator.${NAMESPACE}.svc`)).toBe(true);
  });
});
