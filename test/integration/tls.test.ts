import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import {
  anonymousRoute,
  dataplaneService,
  eventually,
  POD_NET,
  postChat,
  type Proc,
  startDataplane,
  startOperator,
  startTestCluster,
  type TestCluster,
  upstreamProvider,
} from './harness.js';

const IP = `${POD_NET}.41`;
const PORT = 19391;
let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc | undefined;
let pod: Proc | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
const file = (name: string) => join(dir, name);

/** A private CA and two leaf certificates: the pods' (named after the Service) and the operator's. */
function certificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tollgate-test-ca', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  const leaf = (name: string, san: string) => {
    writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`));
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`));
  };
  leaf('dataplane', 'DNS:tollgate-dataplane.tollgate-system.svc');
  leaf('operator', 'IP:127.0.0.1');
}

beforeAll(async () => {
  certificates();
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  k.kubectl(['create', 'namespace', 'team-a']);
  k.apply([upstreamProvider('team-a', upstream.baseUrl), anonymousRoute('team-a', 'chat')].join('---\n'));
}, 120_000);

afterAll(async () => {
  await operator?.kill();
  await pod?.kill();
  await upstream?.close();
  await k?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const chat = (): Promise<number> => postChat(IP, 'chat');

describe('TLS on the admin channel', () => {
  it('pushes snapshots over TLS verified against the CA and the Service name, and pulls and reports over TLS', async () => {
    pod = startDataplane(IP, {
      operatorUrl: `https://127.0.0.1:${PORT}`,
      args: ['--admin-tls-cert', file('dataplane.crt'), '--admin-tls-key', file('dataplane.key'), '--operator-ca', file('ca.crt')],
    });
    k.apply(dataplaneService([IP]));
    operator = startOperator(k.operatorKubeconfig, {
      port: PORT,
      identity: 'tls-operator',
      args: ['--tls-cert', file('operator.crt'), '--tls-key', file('operator.key'), '--dataplane-ca', file('ca.crt')],
    });
    await eventually(async () => expect(await chat()).toBe(200), 'a snapshot pushed over TLS', 30_000);
    // The admin port speaks only TLS now.
    await expect(fetch(`http://${IP}:9090/healthz`)).rejects.toThrow();
    // The operator port too; a pod that trusts the CA pulled and reported through it.
    await expect(fetch(`http://127.0.0.1:${PORT}/healthz`)).rejects.toThrow();
  });

  it('refuses to push to a pod whose certificate the CA did not sign', async () => {
    await operator?.kill();
    await pod?.kill();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=rogue', '-addext', 'subjectAltName=DNS:tollgate-dataplane.tollgate-system.svc', '-keyout', file('rogue.key'), '-out', file('rogue.crt')], { stdio: 'pipe' });
    pod = startDataplane(IP, { args: ['--admin-tls-cert', file('rogue.crt'), '--admin-tls-key', file('rogue.key')] });
    // Debug logs carry why each push failed.
    const started = startOperator(k.operatorKubeconfig, { port: PORT, identity: 'tls-operator', args: ['--dataplane-ca', file('ca.crt')], env: { LOG_LEVEL: 'debug' } });
    operator = started;
    // The operator reached the pod's admin port (listening, hence the public port too) and refused its certificate.
    await eventually(
      () => expect(started.logs.join('')).toMatch(/"err":"self[- ]signed certificate[^"]*"[^\n]*"msg":"snapshot push failed"/),
      'a push refused for the pod\'s certificate',
      30_000,
    );
    expect(await chat()).toBe(503); // never received a snapshot
  });

  it('with --managed-tls the operator makes the CA and the data planes\' certificate itself, and the channel is TLS only', async () => {
    await operator?.kill();
    await pod?.kill();
    // The operator creates both Secrets in the data-plane namespace before it listens or pushes.
    operator = startOperator(k.operatorKubeconfig, { port: PORT, identity: 'tls-operator', args: ['--managed-tls', '--tls-secret-prefix', 'managed'] });
    const secret = await eventually(() => {
      const s = JSON.parse(k.kubectl(['get', 'secret', 'managed-dataplane-tls', '-n', 'tollgate-system', '-o', 'json'])) as { data: Record<string, string> };
      return Object.fromEntries(Object.entries(s.data).map(([key, v]) => [key, Buffer.from(v, 'base64').toString('utf8')]));
    }, 'the data planes\' certificate Secret', 30_000);
    expect(Object.keys(secret).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const ca = JSON.parse(k.kubectl(['get', 'secret', 'managed-ca', '-n', 'tollgate-system', '-o', 'json'])) as { data: Record<string, string> };
    expect(Buffer.from(ca.data['tls.crt'] ?? '', 'base64').toString()).toBe(secret['ca.crt']);
    // What the chart mounts into the data-plane pods.
    for (const [key, value] of Object.entries(secret)) writeFileSync(file(`managed-${key}`), value ?? '');
    pod = startDataplane(IP, {
      operatorUrl: `https://127.0.0.1:${PORT}`,
      args: [
        '--admin-tls-cert', file('managed-tls.crt'),
        '--admin-tls-key', file('managed-tls.key'),
        '--operator-ca', file('managed-ca.crt'),
        // The operator's certificate names its Service; here it is reached on loopback.
        '--operator-tls-server-name', 'tollgate-operator.tollgate-system.svc',
      ],
    });
    await eventually(async () => expect(await chat()).toBe(200), 'a snapshot over operator-managed TLS', 30_000);
    await expect(fetch(`http://${IP}:9090/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${PORT}/healthz`)).rejects.toThrow();

    // A restarted operator keeps the CA and the certificate (created once), and issues itself a new one from the same CA.
    await operator.kill();
    operator = startOperator(k.operatorKubeconfig, { port: PORT, identity: 'tls-operator', args: ['--managed-tls', '--tls-secret-prefix', 'managed'] });
    k.apply(anonymousRoute('team-a', 'chat-after-restart'));
    await eventually(async () => expect(await postChat(IP, 'chat-after-restart')).toBe(200), 'a push after the operator restarted', 30_000);
    const again = JSON.parse(k.kubectl(['get', 'secret', 'managed-dataplane-tls', '-n', 'tollgate-system', '-o', 'json'])) as { data: Record<string, string> };
    expect(Buffer.from(again.data['tls.crt'] ?? '', 'base64').toString()).toBe(secret['tls.crt']);
  });
});
