import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeGuardrails, type RequestInfo } from '../../dataplane/policy/guardrail/guardrail-engine.js';
import type { WebhookRequest } from '../../dataplane/policy/guardrail/webhook-check.js';
import { HttpTransport } from '../../dataplane/upstream/http-transport.js';
import { compile } from '../../operator/compile/compile.js';
import { guardrail, provider, route } from '../support/objects.js';

// Compiled as the operator does (platform namespace tollgate-system), then run by the engine: a
// team's webhook on its own route, called by another team whose e-mail addresses the platform masks.
let server: Server;
let base: string;
const received: WebhookRequest[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as WebhookRequest);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ flagged: false }));
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('guardrail policies across namespaces', () => {
  it("masks with the platform's policy before a tenant's webhook sees another team's prompt", async () => {
    const up = provider('up', { type: 'mock', models: [{ name: 'm' }] }, { namespace: 'team-b' });
    const shared = route('shared', { model: 'shared-chat', targets: [{ providerRef: { name: 'up' }, model: 'm' }], access: { namespaces: { from: 'All' } } }, { namespace: 'team-b' });
    const mask = guardrail('mask-pii', { subjects: { namespaces: ['team-a'] }, rules: [{ name: 'mask-email', phase: 'Request', action: 'Mask', detector: { builtin: ['Email'] } }] }, { namespace: 'tollgate-system' });
    const hook = guardrail(
      'classify',
      { subjects: { routes: [{ name: 'shared' }] }, rules: [{ name: 'hook', phase: 'Request', action: 'Monitor', detector: { webhook: { url: `${base}/check`, timeout: '2s', failureMode: 'Open' } } }] },
      { namespace: 'team-b' },
    );
    const { snapshot } = compile({ providers: [up], routes: [shared], budgets: [], guardrails: [hook, mask], secrets: [], platformNamespaces: ['tollgate-system'] });
    const active = RuntimeGuardrails.build(snapshot.guardrails ?? [], { providers: new Map(), transport: new HttpTransport() }).forRequest({ kind: 'apikey', namespace: 'team-a', name: 'a-key' }, 'team-b/shared');
    expect(active?.policies.map((p) => p.config.id)).toEqual(['tollgate-system/mask-pii', 'team-b/classify']);
    const info: RequestInfo = { requestId: 'r1', route: 'team-b/shared', model: 'shared-chat', caller: 'key:team-a/a-key', signal: new AbortController().signal };
    const r = await active!.checkRequest({ model: 'shared-chat', messages: [{ role: 'user', content: 'write to ann@example.com' }] }, 5, info);
    expect(r.blocked).toBeUndefined();
    // Before, team-b's webhook ran first (team-b sorts before tollgate-system) and read the address.
    expect(received.map((w) => w.texts.map((t) => t.text))).toEqual([['write to [EMAIL]']]);
    expect(r.body).toEqual({ model: 'shared-chat', messages: [{ role: 'user', content: 'write to [EMAIL]' }] });
  });
});
