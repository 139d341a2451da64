import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/kube-client.js';
import { allowedPath, consoleRouter, MAX_RELAYED_READS, METADATA_LIST, METADATA_ONE } from './console-routes.js';

const q = (s = '') => new URLSearchParams(s);

describe("the console's reach into the Kubernetes API", () => {
  it("reads Tollgate's resources, listed or by name, in a namespace or across them", () => {
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports', q())).toBe('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports');
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/usagereports', q('limit=10&labelSelector=x'))).toBe('/apis/tollgate.dev/v1alpha1/usagereports?limit=10');
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets/daily', q())).toBe('/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets/daily');
  });

  it('reads Events only about Tollgate objects, whatever selector is asked for', () => {
    expect(allowedPath('/api/v1/namespaces/team-a/events', q('fieldSelector=type=Warning'))).toBe('/api/v1/namespaces/team-a/events?fieldSelector=involvedObject.apiVersion%3Dtollgate.dev%2Fv1alpha1');
  });

  it('reads nothing else', () => {
    for (const path of [
      '/api/v1/namespaces/team-a/secrets',
      '/api/v1/secrets',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/x/status/../../../secrets',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/datapolicies',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      '/api/v1/namespaces/team-a/events/x',
      '/apis/tollgate.dev/v1alpha1/namespaces/Team_A/budgets',
    ]) {
      expect(allowedPath(path, q()), path).toBeUndefined();
    }
  });
});

describe('the console API', () => {
  it('asks the API server for metadata only when the page says as=metadata (the same path, verb and token)', async () => {
    const asked: { path: string; token: string; accept: string | undefined }[] = [];
    const app = express().use(consoleRouter({ streamAs: async (path, token, accept) => (asked.push({ path, token, accept }), { status: 200, body: '{"items":[]}' }) }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/console/api/k8s/apis/tollgate.dev/v1alpha1`;
    const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: 'Bearer t' } });
    try {
      for (const path of ['/usagereports?as=metadata', '/namespaces/team-a/usagereports/2026-12-05?as=metadata', '/usagereports']) expect((await get(path)).status).toBe(200);
    } finally {
      server.close();
    }
    expect(asked).toEqual([
      { path: '/apis/tollgate.dev/v1alpha1/usagereports', token: 't', accept: METADATA_LIST },
      { path: '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/2026-12-05', token: 't', accept: METADATA_ONE },
      { path: '/apis/tollgate.dev/v1alpha1/usagereports', token: 't', accept: undefined },
    ]);
  });

  it('relays a list as the API server sends it, without holding it whole, and at most MAX_RELAYED_READS at once', async () => {
    // An API server that sends the first part of each list and the rest only when told to.
    const held: ServerResponse[] = [];
    const api = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"kind":"UsageReportList","items":[${'{"a":1},'.repeat(100_000)}`);
      held.push(res);
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const client = new KubeClient(kc);
    const app = express().use(consoleRouter(client));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports`;
    try {
      const readers = await Promise.all(Array.from({ length: MAX_RELAYED_READS }, () => fetch(url, { headers: { authorization: 'Bearer t' } })));
      expect(readers.every((r) => r.status === 200)).toBe(true);
      // Each has its first bytes while the API server still holds the rest.
      const firsts = await Promise.all(readers.map(async (r) => (await r.body?.getReader().read())?.value?.length ?? 0));
      expect(firsts.every((n) => n > 0)).toBe(true);
      const oneMore = await fetch(url, { headers: { authorization: 'Bearer t' } });
      expect(oneMore.status).toBe(429);
      expect(((await oneMore.json()) as { error: { code: string } }).error.code).toBe('too_many_reads');
      for (const res of held.splice(0)) res.end('{"a":1}]}');
      await new Promise((r) => setTimeout(r, 50));
      const again = await fetch(url, { headers: { authorization: 'Bearer t' } });
      expect(again.status).toBe(200);
      for (const res of held.splice(0)) res.end('{"a":1}]}');
      expect(((await again.json()) as { items: unknown[] }).items).toHaveLength(100_001);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close();
      api.closeAllConnections();
      api.close();
      await client.close();
    }
  });

  it('cuts a relay whose viewer reads nothing, so that viewers who never read cannot hold every slot', async () => {
    const big = JSON.stringify({ kind: 'UsageReportList', items: Array.from({ length: 20_000 }, (_, i) => ({ metadata: { name: `r${i}` }, pad: 'x'.repeat(400) })) });
    const api = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(big));
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const client = new KubeClient(kc);
    const app = express().use(consoleRouter(client, { relayStallMs: 300 }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const path = '/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports';
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < MAX_RELAYED_READS; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer idle\r\n\r\n`);
        s.pause();
        idle.push(s);
      }
      // Every slot is taken first; then each stalled relay is cut and its slot comes back.
      await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: 'Bearer t' } })).status, { timeout: 10_000 }).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
      server.closeAllConnections();
      server.close();
      api.close();
      await client.close();
    }
  });

  it('reads no request body: a body announced, or one sent with another method, is refused and the connection closed unread', async () => {
    const asked: string[] = [];
    const app = express().use(consoleRouter({ streamAs: async (path) => (asked.push(path), { status: 401, body: '{}' }) }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const api = '/console/api/k8s/apis/tollgate.dev/v1alpha1/usagereports';
    // A body far larger than what is sent: an open connection would be read until it all came.
    const send = async (head: string): Promise<{ status: string; closed: boolean }> => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      let answer = '';
      s.on('data', (d: Buffer) => (answer += d.toString()));
      const closed = once(s, 'close').then(() => true);
      s.write(`${head}\r\nhost: x\r\ncontent-length: 1000000000\r\n\r\n`);
      s.write('x'.repeat(64 * 1024));
      const result = await Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), 1_000))]);
      s.destroy();
      return { status: answer.split('\r\n')[0] ?? '', closed: result };
    };
    try {
      expect(await send(`POST ${api} HTTP/1.1\r\nauthorization: Bearer t`)).toEqual({ status: 'HTTP/1.1 405 Method Not Allowed', closed: true });
      // Without this, a bogus token was relayed to the API server, and the body read after its 401.
      expect(await send(`GET ${api} HTTP/1.1\r\nauthorization: Bearer t`)).toEqual({ status: 'HTTP/1.1 400 Bad Request', closed: true });
      expect(await send('GET /console/ HTTP/1.1')).toEqual({ status: 'HTTP/1.1 400 Bad Request', closed: true });
      expect(asked).toEqual([]);
      // Without a body, the API and the page answer as before, on a connection kept alive.
      expect((await fetch(`http://127.0.0.1:${port}${api}`, { headers: { authorization: 'Bearer t' } })).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/console/`)).status).toBe(200);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
