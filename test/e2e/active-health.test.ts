import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

/** An upstream whose health endpoint can be switched off while chat keeps answering. */
let healthy = true;
let chats = 0;
let probes = 0;
let flaky: Server;
let backup: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  flaky = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      probes++;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
      return;
    }
    chats++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'flaky-model', choices: [{ index: 0, message: { role: 'assistant', content: 'flaky' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
      );
    });
  });
  flaky.listen(0, '127.0.0.1');
  await once(flaky, 'listening');
  backup = await startOpenAiUpstream();
  const flakyUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/v1`;
  // A 5 s probe timeout: the probes fail by answering 503, and a loaded machine could stall two
  // healthy 500 ms probes in a row, taking the provider out before the test turned it unhealthy.
  gateway = await startTestGateway({
    'providers.yaml': `${openAiProvider('flaky', flakyUrl, '  healthCheck: { enabled: true, path: /models, interval: 50ms, timeout: 5s, unhealthyThreshold: 2, healthyThreshold: 2 }\n')}---\n${openAiProvider('backup', backup.baseUrl)}`,
    'route.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets:
    - { providerRef: { name: flaky }, model: flaky-model, priority: 0 }
    - { providerRef: { name: backup }, model: backup-model, priority: 1 }
`,
  });
});

afterAll(async () => {
  await gateway.close();
  await backup.close();
  flaky.close();
});

const served = async (): Promise<string | null> => {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const { response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  return response.headers.get('x-tollgate-provider');
};

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('active health checks', () => {
  it('takes a provider out of every route after failed probes, without sending it requests, and back when probes pass', async () => {
    await until(async () => probes >= 2);
    expect(await served()).toBe('default/flaky');

    healthy = false;
    const before = probes;
    await until(async () => probes >= before + 3);
    const chatsBefore = chats;
    expect(await served()).toBe('default/backup');
    expect(await served()).toBe('default/backup');
    expect(chats).toBe(chatsBefore); // no request was sent to find out

    healthy = true;
    await until(async () => (await served()) === 'default/flaky');
  });
});
