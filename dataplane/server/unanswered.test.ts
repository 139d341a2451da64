import { createServer, request } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { answerAtDrain, answerUnanswered, closedWithin } from './unanswered.js';

describe('answerUnanswered', () => {
  it('answers, through each connection, only the requests whose answer has not started, and their connections close', async () => {
    const sockets = new Set<Socket>();
    const answered: string[] = [];
    let arrived = 0;
    const server = createServer((req, res) => {
      arrived++;
      // An answer under way (a stream) is the drain's stream cut's, not this: left alone.
      if (req.url === '/started') res.writeHead(200).write('x');
      answerAtDrain(res, (reason, drain) => {
        answered.push(`${req.url} ${drain}`);
        res.setHeader('connection', 'close');
        res.writeHead(503).end(reason.message);
      });
    });
    server.on('connection', (s: Socket) => sockets.add(s));
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    const get = (path: string) =>
      new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
        request({ port, host: '127.0.0.1', path, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode, body })).on('error', () => resolve({ status: res.statusCode, body }));
        })
          .on('error', reject)
          .end();
      });
    const pending = get('/pending');
    const started = get('/started');
    while (arrived < 2) await new Promise((r) => setTimeout(r, 5));
    const closed = answerUnanswered(sockets, new Error('shutting down'));
    expect(answered).toEqual(['/pending drain']);
    expect(closed).toHaveLength(1);
    expect(await pending).toEqual({ status: 503, body: 'shutting down' });
    await closedWithin(closed, 60_000);
    expect(closed[0]?.destroyed).toBe(true);
    server.closeAllConnections();
    server.close();
    expect((await started).status).toBe(200);
  });

  it('stops waiting for connections after the grace', async () => {
    // Never connected: never closes.
    const socket = new Socket();
    const started = Date.now();
    await closedWithin([socket], 30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    await closedWithin([], 60_000);
  });
});
