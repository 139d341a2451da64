import { once } from 'node:events';
import { Agent, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UsageAggregator } from '../budgets/usage-aggregator.js';
import { Distributor } from './distributor.js';
import { SecretValue, wireJson } from '../../dataplane/config/secret-value.js';
import { bigInput } from '../../test/support/snapshot-scale.js';
import { compile } from '../compile/compile.js';
import { createOperatorApp } from './operator-server.js';
import { announceHugeBody } from '../../test/support/unread-body.js';

let server: Server;
let base: string;

beforeAll(async () => {
  // Nothing behind the token is reached in these tests: the collaborators are never called.
  const unused = {} as UsageAggregator;
  const distributor = { envelope: undefined } as unknown as Distributor;
  const app = createOperatorApp({ token: 'op-token', metricsToken: 'metrics-only-token', usage: unused, distributor, registry: new Registry(), isReady: () => true, isLeader: () => true, logger: pino({ level: 'silent' }) });
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
  it('closes the connection after answering a request with a body but without the admin token (the body is not read on)', async () => {
    const port = Number(new URL(base).port);
    // Before, node read and threw away the body to its end after the answer: a gigabyte, token or not.
    expect(await announceHugeBody(port, 'GET /healthz HTTP/1.1')).toEqual({ status: 'HTTP/1.1 200 OK', closed: true });
    expect(await announceHugeBody(port, 'GET /readyz HTTP/1.1')).toEqual({ status: 'HTTP/1.1 200 OK', closed: true });
    expect(await announceHugeBody(port, 'GET /metrics HTTP/1.1\r\nauthorization: Bearer metrics-only-token')).toEqual({ status: 'HTTP/1.1 200 OK', closed: true });
  });

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
    // The metrics token (what Prometheus holds) opens /metrics and nothing else: no snapshot, no usage intake.
    const scraper = { authorization: 'Bearer metrics-only-token' };
    expect((await fetch(`${base}/metrics`, { headers: scraper })).status).toBe(200);
    expect((await fetch(`${base}/v1/snapshot`, { headers: scraper })).status).toBe(401);
    expect((await fetch(`${base}/v1/usage`, { method: 'POST', headers: { ...scraper, 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
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

/** An operator's HTTP server, leader or standby (with a reconciled snapshot when leader). */
async function operatorServer(leader: boolean): Promise<{ url: string; close: () => void }> {
  const distributor = { envelope: leader ? { generation: 1 } : undefined, wireBody: leader ? '{"generation":1}' : undefined } as unknown as Distributor;
  const usage = { handle: () => Promise.resolve({ ackedThrough: 0, budgets: [], replicas: 1 }) } as unknown as UsageAggregator;
  const app = createOperatorApp({ token: 'op-token', usage, distributor, registry: new Registry(), isReady: () => true, isLeader: () => leader, logger: pino({ level: 'silent' }) });
  const s = app.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => {
      s.closeAllConnections();
      s.close();
    },
  };
}

/** What a data-plane pod gets for a usage report or a snapshot pull: status and Connection header. */
async function podCall(leader: boolean, method: 'GET' | 'POST', path: string): Promise<{ status: number; connection: string | undefined }> {
  const op = await operatorServer(leader);
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest(`${op.url}${path}`, { method, agent: new Agent({ keepAlive: true }), headers: { authorization: 'Bearer op-token', 'content-type': 'application/json' } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.end(method === 'POST' ? JSON.stringify({ pod: 'p', records: [] }) : undefined);
    });
  } finally {
    op.close();
  }
}

// Data-plane pods reach the operator through its Service, which picks a backend per connection: a
// standby that kept the connection alive would get every report and pull while the leader idles
// (on a real node the usage of a whole run never reached Budget.status).
describe('operator behind a Service', () => {
  it('a standby refuses usage reports with 503 and closes the connection, so the next try can reach the leader', async () => {
    expect(await podCall(false, 'POST', '/v1/usage')).toEqual({ status: 503, connection: 'close' });
  });

  it('a standby refuses snapshot pulls with 503 and closes the connection', async () => {
    expect(await podCall(false, 'GET', '/v1/snapshot')).toEqual({ status: 503, connection: 'close' });
  });

  it('the leader keeps the connection alive', async () => {
    expect(await podCall(true, 'POST', '/v1/usage')).toEqual({ status: 200, connection: 'keep-alive' });
    expect(await podCall(true, 'GET', '/v1/snapshot')).toEqual({ status: 200, connection: 'keep-alive' });
  });
});

describe('snapshot pull', () => {
  it("answers the envelope the distributor serialised at publish, credentials in clear, without serialising it again per pull", async () => {
    const distributor = new Distributor({ token: 't', logger: pino({ level: 'silent' }), verifyIntervalMs: 0 });
    // Credentials of Providers, API-key digests and the installation's hash key: SecretValues.
    const { snapshot } = compile(bigInput(2, 2));
    expect(countSecrets(snapshot)).toBeGreaterThan(0);
    distributor.publish({ generation: 7, term: 2, snapshot });
    const usage = { handle: () => Promise.resolve({ ackedThrough: 0, budgets: [], replicas: 1 }) } as unknown as UsageAggregator;
    const app = createOperatorApp({ token: 'op-token', usage, distributor, registry: new Registry(), isReady: () => true, isLeader: () => true, logger: pino({ level: 'silent' }) });
    const s = app.listen(0, '127.0.0.1');
    await once(s, 'listening');
    // Serialising the envelope reveals its secrets (wireJson): count it across the pulls.
    const reveal = vi.spyOn(SecretValue.prototype, 'reveal');
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/snapshot`, { headers: { authorization: 'Bearer op-token' } });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(wireJson({ generation: 7, term: 2, snapshot }));
      }
      // The three expected bodies above reveal once each; the pulls themselves, never.
      expect(reveal.mock.calls.length).toBe(3 * countSecrets(snapshot));
    } finally {
      reveal.mockRestore();
      distributor.stop();
      s.close();
    }
  });
});

function countSecrets(value: unknown): number {
  if (value instanceof SecretValue) return 1;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countSecrets(v), 0);
  if (typeof value === 'object' && value !== null) return Object.values(value).reduce((n: number, v) => n + countSecrets(v), 0);
  return 0;
}
