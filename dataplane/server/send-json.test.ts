import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson } from './send-json.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** What sendJson wrote before it handed writeHead a flat list: a spread object. */
function spreadJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

interface Case {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** A header set before writeHead (the draining pod's `connection: close`). */
  before?: [string, string];
}

const cases: Case[] = [
  { status: 200, headers: {}, body: { ok: true } },
  {
    status: 200,
    headers: { 'x-request-id': 'r-1', 'x-tollgate-route': 'ns/chat', 'x-tollgate-rule': '', 'x-tollgate-attempts': '2', 'x-tollgate-cost-usd': '0.00001200' },
    body: { text: 'grüße, 世界 😀' },
  },
  { status: 429, headers: { 'retry-after': '3', 'content-type': 'text/plain', 'x-a': 'b', 'content-length': '1' }, body: { error: { message: 'slow down' } } },
  { status: 503, headers: { 'x-a': 'b', 'Content-Type': 'text/plain' }, body: { error: {} }, before: ['connection', 'close'] },
  { status: 200, headers: { connection: 'keep-alive', 'x-b': 'c' }, body: [1, 2, 3], before: ['x-b', 'early'] },
];

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    const [write, index] = (req.url ?? '').slice(1).split('/');
    const c = cases[Number(index)] as Case;
    res.sendDate = false;
    if (c.before !== undefined) res.setHeader(c.before[0], c.before[1]);
    (write === 'list' ? sendJson : spreadJson)(res, c.status, c.headers, c.body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
});

/** The raw bytes of one response on its own connection. */
function raw(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describe('sendJson', () => {
  it('writes byte for byte what writeHead with the spread headers object wrote', async () => {
    for (const [i, c] of cases.entries()) {
      const [before, after] = await Promise.all([raw(`/spread/${i}`), raw(`/list/${i}`)]);
      expect(after, `case ${i}`).toBe(before);
      expect(after).toContain(`\r\n\r\n${JSON.stringify(c.body)}`);
    }
  });
});
