import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardrailConfig } from '../../config/guardrail-config.js';
import { HttpTransport } from '../../upstream/http-transport.js';
import { RuntimeGuardrails, type RequestInfo } from './guardrail-engine.js';
import type { WebhookRequest } from './webhook-check.js';

// The webhook contract against a real HTTP server on loopback: flagged, masked, down, hanging, broken answers.
let server: Server;
let base: string;
const received: WebhookRequest[] = [];
const hanging = new Set<import('node:http').ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const check = JSON.parse(body) as WebhookRequest;
      received.push(check);
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/hang') return void hanging.add(res);
      if (req.url === '/500') return json(500, { error: 'boom' });
      if (req.url === '/garbage') return json(200, { verdict: 'maybe' });
      const flagged = check.texts.some((t) => t.text.includes('secret project'));
      if (req.url === '/mask') return json(200, { flagged, texts: check.texts.map((t) => t.text.replaceAll('secret project', '[PROJECT]')) });
      return json(200, { flagged, reason: flagged ? 'project name' : undefined });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const info: RequestInfo = { requestId: 'req-1', route: 'team-a/chat', model: 'chat', caller: 'sa:team-a/app', signal: new AbortController().signal };
const transport = new HttpTransport();

function guard(path: string, action: 'Block' | 'Mask' | 'Monitor', failureMode: 'Open' | 'Closed', url = `${base}${path}`, timeoutMs = 5000) {
  const config: GuardrailConfig = {
    id: 'team-a/hook',
    subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: ['team-a/chat'] },
    holdBackChars: 64,
    rules: [{ name: 'classifier', phase: 'Request', action, detector: { kind: 'webhook', url, timeoutMs, failureMode } }],
  };
  const active = RuntimeGuardrails.build([config], { providers: new Map(), transport }).forRequest({ kind: 'anonymous' }, 'team-a/chat');
  if (active === undefined) throw new Error('policy does not apply');
  return (content: string) => active.checkRequest({ model: 'chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }] }, 5, info);
}

describe('webhook guardrail against a real HTTP server', () => {
  it('POSTs the documented contract and blocks what the service flags', async () => {
    const r = await guard('/check', 'Block', 'Closed')('tell me about the secret project');
    expect(r.blocked?.status).toBe(400);
    expect(r.blocked?.message).toBe('the request was blocked by guardrail policy team-a/hook, rule classifier: the check service flagged it');
    expect(r.decisions[0]).toMatchObject({ action: 'Block', detector: 'webhook', reason: 'project name' });
    expect(received.at(-1)).toEqual({
      apiVersion: 'tollgate.dev/v1alpha1',
      kind: 'GuardrailCheck',
      policy: 'team-a/hook',
      rule: 'classifier',
      phase: 'Request',
      requestId: 'req-1',
      route: 'team-a/chat',
      model: 'chat',
      caller: 'sa:team-a/app',
      texts: [
        { role: 'system', text: 'be brief' },
        { role: 'user', text: 'tell me about the secret project' },
      ],
    });
    expect((await guard('/check', 'Block', 'Closed')('hello')).blocked).toBeUndefined();
  });

  it('uses the masked texts the service returns for action Mask', async () => {
    const r = await guard('/mask', 'Mask', 'Closed')('the secret project is late');
    expect(r.body).toEqual({ model: 'chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'the [PROJECT] is late' }] });
  });

  it.each([
    ['hanging', '/hang', /no answer within 300 ms/],
    ['answering 500', '/500', /answered HTTP 500/],
    ['breaking the contract', '/garbage', /answer does not follow the contract/],
  ])('fails closed when the service is %s: 503 guardrail_unavailable, the reason named', async (_what, path, reason) => {
    // Only the hanging service waits out a short timeout; the others answer (a long timeout holds under load).
    const r = await guard(path, 'Block', 'Closed', `${base}${path}`, path === '/hang' ? 300 : 5000)('hello');
    expect(r.blocked?.status).toBe(503);
    expect(r.blocked?.code).toBe('guardrail_unavailable');
    expect(r.blocked?.message).toMatch(reason);
    expect(r.decisions[0]).toMatchObject({ action: 'Block', error: expect.stringMatching(reason) as unknown });
  });

  it('fails open when told to: the request goes on, the error is recorded (action Allow)', async () => {
    const r = await guard('/hang', 'Block', 'Open', `${base}/hang`, 300)('hello');
    expect(r.blocked).toBeUndefined();
    expect(r.decisions).toEqual([{ policy: 'team-a/hook', rule: 'classifier', phase: 'Request', action: 'Allow', detector: 'webhook', error: 'no answer within 300 ms' }]);
  });

  it('treats a service that is down like one that does not answer', async () => {
    // A port nothing listens on: a closed server's port on loopback.
    const gone = createServer();
    gone.listen(0, '127.0.0.1');
    await new Promise((r) => gone.once('listening', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const closed = await guard('', 'Block', 'Closed', `http://127.0.0.1:${port}/`)('hello');
    expect(closed.blocked?.code).toBe('guardrail_unavailable');
    expect(closed.blocked?.message).toMatch(/unreachable \(ECONNREFUSED\)/);
    const open = await guard('', 'Block', 'Open', `http://127.0.0.1:${port}/`)('hello');
    expect(open.blocked).toBeUndefined();
    expect(open.decisions[0]?.action).toBe('Allow');
  });
});
