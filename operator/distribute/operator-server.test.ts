import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageAggregator } from '../budgets/usage-aggregator.js';
import type { Distributor } from './distributor.js';
import { createOperatorApp } from './operator-server.js';

let server: Server;
let base: string;

beforeAll(async () => {
  // Nothing behind the token is reached in these tests: the collaborators are never called.
  const unused = {} as UsageAggregator;
  const distributor = { envelope: undefined } as unknown as Distributor;
  const app = createOperatorApp({ token: 'op-token', usage: unused, distributor, registry: new Registry(), isReady: () => true, isLeader: () => true, logger: pino({ level: 'silent' }) });
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

/** Sends only the headers of a huge upload: only a handler that does not wait for the body can answer. */
function headersOnly(path: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(50 * 1024 * 1024), ...headers } });
    req.on('response', resolve);
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('operator port', () => {
  it('checks the token of a usage report before reading its body', async () => {
    const res = await headersOnly('/v1/usage');
    expect(res.statusCode).toBe(401);
    res.destroy();
  });

  it('refuses a usage report over the small body limit with JSON (413), even with the token', async () => {
    const res = await fetch(`${base}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer op-token', 'content-type': 'application/json' }, body: `{"pod":"p","records":[],"pad":"${'x'.repeat(5 * 1024 * 1024)}"}` });
    expect(res.status).toBe(413);
    const text = await res.text();
    expect(text).not.toMatch(/<html|<pre>|at .*\.js:\d+/i);
    expect(JSON.parse(text)).toHaveProperty('error');
  });

  it('keeps /metrics behind the token; the probes stay open', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer op-token' } })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('answers unknown paths and bad JSON with JSON', async () => {
    const missing = await fetch(`${base}/v1/nothing`, { headers: { authorization: 'Bearer op-token' } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no such endpoint: GET /v1/nothing' });
    const bad = await fetch(`${base}/v1/usage`, { method: 'POST', headers: { authorization: 'Bearer op-token', 'content-type': 'application/json' }, body: '{' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/json/);
  });
});
