import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiPathForwarding } from '../../providers/shared/openai-paths.js';
import { MAX_SHOWN_TOKEN } from '../../core/shown-token.js';
import { firstAnswer } from './input-file.js';
import type { ForwardTarget } from './passthrough-route.js';

describe('firstAnswer', () => {
  let server: Server;
  let encoding = '';
  const agents = { http: new HttpAgent(), https: new HttpsAgent() };
  beforeAll(async () => {
    // Raw bytes: node's own server refuses to send what an upstream may.
    server = createServer((socket) => {
      socket.once('data', () => socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-encoding: '), Buffer.from(encoding, 'latin1'), Buffer.from('\r\ncontent-length: 3\r\nconnection: close\r\n\r\n{}\n')])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    agents.http.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const target = (): ForwardTarget =>
    ({
      target: { providerId: 'team-a/openai', model: 'gpt-4o-mini', priority: 0, weight: 1 },
      forwarding: openAiPathForwarding,
      at: { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, model: 'gpt-4o-mini', headers: {} },
    }) as unknown as ForwardTarget;

  it("quotes an upstream's content-encoding cut and as visible ASCII, whatever it sent (up to node's 16 KB header limit)", async () => {
    encoding = `x-${'a'.repeat(12_000)}`;
    const long = await firstAnswer([target()], '/v1/files/file-1/content', Date.now() + 5000, agents);
    expect(long).toEqual([`team-a/openai sent it x-${'a'.repeat(MAX_SHOWN_TOKEN - 2)}…-encoded, though asked for it as it is`]);
    // node reads header bytes as latin1: a tab or a high byte is shown as `?`.
    encoding = 'gz\tip\u00e9';
    const odd = await firstAnswer([target()], '/v1/files/file-1/content', Date.now() + 5000, agents);
    expect(odd).toEqual(['team-a/openai sent it gz?ip?-encoded, though asked for it as it is']);
  });
});
