import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockRouteSnapshot } from '../../test/support/mock-route-snapshot.js';
import { SnapshotStore } from '../runtime/snapshot-store.js';
import { HttpTransport } from '../upstream/http-transport.js';
import { createAdminApp } from './admin-app.js';
import { announceHugeBody } from '../../test/support/unread-body.js';

const snapshot = mockRouteSnapshot;

let server: Server;
let base: string;
const store = new SnapshotStore(new HttpTransport());

beforeAll(async () => {
  // An extension that parses a body, as /debug/route does: it must sit behind the token.
  const extend = (app: Express): void => {
    app.post('/debug/echo', express.json({ limit: '64mb' }), (req, res) => res.json({ got: req.body as unknown }));
  };
  const metrics = { token: 'metrics-only-token', mount: (app: Express): void => void app.get('/metrics', (_req, res) => res.type('text/plain').send('tollgate_up 1\n')) };
  server = createAdminApp({ store, token: 'secret', logger: pino({ level: 'silent' }), isDraining: () => false, extend, metrics }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

const push = (body: unknown, token = 'secret') =>
  fetch(`${base}/v1/snapshot`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('admin API', () => {
  it('closes the connection after answering a request with a body but without the admin token (the body is not read on)', async () => {
    const port = Number(new URL(base).port);
    // Before, node read and threw away the body to its end after the answer: a gigabyte, token or not.
    expect(await announceHugeBody(port, 'GET /healthz HTTP/1.1')).toEqual({ status: 'HTTP/1.1 200 OK', closed: true });
    expect(await announceHugeBody(port, 'GET /readyz HTTP/1.1')).toEqual({ status: 'HTTP/1.1 503 Service Unavailable', closed: true });
    expect(await announceHugeBody(port, 'GET /metrics HTTP/1.1\r\nauthorization: Bearer metrics-only-token')).toEqual({ status: 'HTTP/1.1 200 OK', closed: true });
    // The admin token's requests with a body keep their connection (the operator pushes on it).
    const kept = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${base}/debug/echo`, { method: 'POST', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' } }, resolve);
      req.on('error', reject);
      req.end('{"a":1}');
    });
    kept.resume();
    expect([kept.statusCode, kept.headers.connection]).toEqual([200, 'keep-alive']);
  });

  it('is not ready before the first snapshot', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
  });

  it('opens /metrics to the metrics token (what Prometheus holds) and nothing else behind the admin token', async () => {
    const scraper = { authorization: 'Bearer metrics-only-token' };
    expect((await fetch(`${base}/metrics`, { headers: scraper })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer secret' } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await push({ generation: 1, snapshot: snapshot('a') }, 'metrics-only-token')).status).toBe(401);
    expect((await fetch(`${base}/v1/snapshot/status`, { headers: scraper })).status).toBe(401);
    expect((await fetch(`${base}/debug/echo`, { method: 'POST', headers: { ...scraper, 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  it('refuses pushes without the right token', async () => {
    expect((await push({ generation: 1, snapshot: snapshot('a') }, 'wrong')).status).toBe(401);
    expect((await fetch(`${base}/v1/snapshot/status`)).status).toBe(401);
    expect((await fetch(`${base}/debug/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    const withToken = await fetch(`${base}/debug/echo`, { method: 'POST', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await withToken.json()).toEqual({ got: { a: 1 } });
  });

  it('applies a newer generation, refuses an older one, and keeps the last good on an invalid one', async () => {
    const first = await push({ generation: 10, snapshot: snapshot('a') });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ accepted: true, generation: 10, version: snapshot('a').version });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const stale = await push({ generation: 9, snapshot: snapshot('b') });
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ accepted: false, generation: 10 });
    expect(store.current?.snapshot.version).toBe(snapshot('a').version);

    const invalid = await push({ generation: 11, snapshot: { ...snapshot('c'), routes: 'nope' } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/invalid snapshot at routes/);
    expect(store.generation).toBe(10);
    expect(store.current?.snapshot.version).toBe(snapshot('a').version);

    expect((await push({ generation: 12, snapshot: snapshot('d') })).status).toBe(200);
    expect(store.current?.models.map((m) => m.id)).toEqual(['d']);
  });

  it('refuses the served generation with other content (409), and a version that is not the content hash (400)', async () => {
    const served = store.generation;
    const same = await push({ generation: served, snapshot: snapshot('e') });
    expect(same.status).toBe(409);
    expect(((await same.json()) as { error: string }).error).toMatch(/already served/);
    expect(store.current?.models.map((m) => m.id)).toEqual(['d']);
    // The same generation with the same content is an idempotent retry.
    expect((await push({ generation: served, snapshot: snapshot('d') })).status).toBe(200);

    const forged = { ...snapshot('f'), version: snapshot('d').version };
    const lying = await push({ generation: served + 1, snapshot: forged });
    expect(lying.status).toBe(400);
    expect(((await lying.json()) as { error: string }).error).toMatch(/does not match its content/);
    expect(store.current?.models.map((m) => m.id)).toEqual(['d']);
  });

  it.each([
    ['PUT', '/v1/snapshot'],
    ['POST', '/debug/echo'],
  ])('checks the token before reading a body (%s %s): a 50 MB upload without it is answered at once, unread', async (method, path) => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024) } });
      req.on('response', resolve);
      req.on('error', reject);
      req.flushHeaders(); // no body byte is ever sent: only a handler that does not wait for it can answer
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    res.destroy();
  });

  it('answers every error as JSON without a stack trace, whatever NODE_ENV says', async () => {
    const bad = await fetch(`${base}/v1/snapshot`, { method: 'PUT', headers: { authorization: 'Bearer secret', 'content-type': 'application/json' }, body: '{"generation": 1, ' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/json/);
    const text = await bad.text();
    expect(text).not.toMatch(/<html|<pre>|at .*\.js:\d+/i);
    expect(JSON.parse(text)).toHaveProperty('error');
    const missing = await fetch(`${base}/nope`, { headers: { authorization: 'Bearer secret' } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no such endpoint: GET /nope' });
  });
});
