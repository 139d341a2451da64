import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../../operator/compile/compile.js';
import { guardrail, provider, route } from '../../../test/support/objects.js';
import { wireJson } from '../../config/secret-value.js';
import { buildRuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { HttpTransport } from '../../upstream/http-transport.js';
import { MAX_SHOWN_NAME_LENGTH, MAX_SHOWN_NAMES } from '../../core/bounded-names.js';
import { RuntimeGuardrails, type RequestInfo } from './guardrail-engine.js';
import { foundWhat } from './guardrail-refusal.js';

// A moderation rule through a real openai-compatible Provider: a local server answering POST /v1/moderations
// in the OpenAI wire format (id, model, results[].flagged/categories/category_scores).
let server: Server;
let base: string;
const seen: { auth: string | undefined; body: { model: string; input: string[] } }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { model: string; input: string[] };
      seen.push({ auth: req.headers.authorization, body: parsed });
      if (req.url !== '/v1/moderations') {
        res.writeHead(404).end();
        return;
      }
      const results = parsed.input.map((text) => {
        if (text.includes('flood')) {
          // A tenant's own moderation server may name any number of categories, of any length.
          const categories: Record<string, boolean> = { violence: true };
          for (let i = 0; i < 5000; i++) categories[`c${String(i).padStart(4, '0')}-${'x'.repeat(1000)}`] = true;
          return { flagged: true, categories, category_scores: {} };
        }
        const violence = text.includes('hurt');
        const harassment = text.includes('idiot');
        return {
          flagged: violence || harassment,
          categories: { violence, harassment, 'self-harm': false, 'self-harm/intent': null },
          category_scores: { violence: violence ? 0.9 : 0.01, harassment: harassment ? 0.8 : 0.01, 'self-harm': 0.0, 'self-harm/intent': 0.0 },
        };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'modr-1', model: parsed.model, results }));
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const info: RequestInfo = { requestId: 'r', route: 'default/chat', model: 'chat', caller: 'anonymous', signal: new AbortController().signal };

function guarded(categories?: string[]) {
  const { snapshot } = compile({
    providers: [provider('p', { type: 'mock' }), provider('mod', { type: 'openai-compatible', url: base, credentials: { secretRef: { name: 'mod-key', key: 'k' } } })],
    routes: [route('chat', { model: 'chat', targets: [{ providerRef: { name: 'p' }, model: 'm' }] })],
    budgets: [],
    guardrails: [guardrail('g', { subjects: { routes: [{ name: 'chat' }] }, rules: [{ name: 'harm', phase: 'Request', action: 'Block', detector: { moderation: { providerRef: { name: 'mod' }, ...(categories === undefined ? {} : { categories }) } } }] })],
    secrets: [{ namespace: 'default', name: 'mod-key', data: { k: 'sk-moderation' } }],
  });
  const transport = new HttpTransport();
  const loaded = buildRuntimeSnapshot(JSON.parse(wireJson(snapshot)), transport);
  if (!loaded.ok) throw new Error(loaded.error);
  const active = RuntimeGuardrails.build(loaded.runtime.snapshot.guardrails ?? [], { providers: loaded.runtime.providers, transport }).forRequest({ kind: 'anonymous' }, 'default/chat');
  if (active === undefined) throw new Error('policy does not apply');
  return (content: string) => active.checkRequest({ model: 'chat', messages: [{ role: 'user', content }] }, 5, info);
}

describe('moderation guardrail through an OpenAI-compatible Provider', () => {
  it('blocks what the moderation API flags, naming the categories, with the Provider credential and model', async () => {
    const r = await guarded()('I will hurt you');
    expect(r.blocked?.message).toBe('the request was blocked by guardrail policy default/g, rule harm: moderation flagged it (violence)');
    expect(seen.at(-1)).toEqual({ auth: 'Bearer sk-moderation', body: { model: 'omni-moderation-latest', input: ['I will hurt you'] } });
    expect((await guarded()('hello there')).blocked).toBeUndefined();
  });

  it('counts only the listed categories', async () => {
    expect((await guarded(['violence'])('you idiot')).blocked).toBeUndefined();
    expect((await guarded(['harassment'])('you idiot')).blocked?.message).toContain('(harassment)');
  });
});

describe('categories a moderation service names, unlisted by the rule', () => {
  it('are bounded where they enter: at most 32 names of at most 128 characters, the rest counted', async () => {
    const r = await guarded()('flood');
    const categories = r.decisions[0]?.categories ?? [];
    expect(categories).toHaveLength(MAX_SHOWN_NAMES);
    for (const c of categories) expect(c.length).toBeLessThanOrEqual(MAX_SHOWN_NAME_LENGTH);
    expect(categories.at(-1)).toBe(`+${5001 - (MAX_SHOWN_NAMES - 1)} more`);
    expect(categories[0]).toMatch(/^c0000-x+…$/);
    const message = r.blocked?.message ?? '';
    expect(message).toMatch(/^the request was blocked by guardrail policy default\/g, rule harm: moderation flagged it \(c0000-x+…, /);
    expect(message).toContain(`, +${5001 - (MAX_SHOWN_NAMES - 1)} more)`);
    expect(message.length).toBeLessThan(5000);
  });

  it('are bounded wherever a decision is put in words, whatever made it', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `category-${i}-${'y'.repeat(500)}`);
    const base = { policy: 'default/g', rule: 'harm', phase: 'Request' as const, action: 'Block' as const, detector: 'moderation' };
    expect(foundWhat({ ...base, categories: many }).length).toBeLessThan(5000);
    expect(foundWhat({ ...base, detector: 'patterns', findings: Object.fromEntries(many.map((c) => [c, 1])) }).length).toBeLessThan(5000);
  });
});
