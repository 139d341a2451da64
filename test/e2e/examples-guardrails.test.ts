import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// examples/guardrails/ (issue 17's "done when"): `tollgate dev` serves guarded-chat from the mock
// provider; its policy blocks prompts with a payment card number and masks e-mail addresses.

const DIR = 'examples/guardrails';
const files = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => [f, readFileSync(join(DIR, f), 'utf8')]),
);
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startTestGateway(files, { admin: true });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
});

describe('examples/guardrails', () => {
  it('is valid and accepted: the policy is compiled with every rule', () => {
    const loaded = loadManifests(Object.entries(files).map(([path, content]) => ({ path, content })));
    expect(loaded.errors).toEqual([]);
    const { snapshot, statuses } = compile(loaded.input);
    const status = statuses.find((s) => s.kind === 'GuardrailPolicy');
    expect(status?.conditions.filter((c) => c.status !== 'True')).toEqual([]);
    expect(snapshot.guardrails?.[0]?.rules.map((r) => `${r.name}:${r.phase}:${r.action}`)).toEqual([
      'no-card-numbers:Request:Block',
      'mask-email:Request:Mask',
      'mask-email-in-answers:Response:Mask',
      'watch-credentials:Request:Monitor',
      'prompt-size:Request:Block',
    ]);
  });

  it('serves guarded-chat and blocks a prompt with a payment card number, naming policy and rule', async () => {
    const ok = await client.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'Hello!' }] });
    expect(ok.choices[0]?.message.content).not.toBe('');
    const err = await client.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'Charge 4111 1111 1111 1111 please' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('guardrail_blocked');
    expect((err as Error).message).toContain('guardrail policy default/guarded-chat, rule no-card-numbers: it contains PaymentCard');
  });

  it('masks e-mail addresses (the header names the policy; the dry run shows the Mask)', async () => {
    const res = await client.chat.completions.create({ model: 'guarded-chat', messages: [{ role: 'user', content: 'Send the report to ann@example.com' }] }).withResponse();
    expect(res.response.headers.get('x-tollgate-guardrail')).toBe('default/guarded-chat');
    const dry = await fetch(`${gateway.adminUrl}/debug/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` },
      body: JSON.stringify({ model: 'guarded-chat', messages: [{ role: 'user', content: 'Send the report to ann@example.com' }] }),
    });
    const body = (await dry.json()) as { decision: { guardrails: { outcome: string; rules: { rule: string; result: string }[] } } };
    expect(body.decision.guardrails.outcome).toBe('masked');
    expect(body.decision.guardrails.rules.find((r) => r.rule === 'mask-email')).toMatchObject({ result: 'Mask', findings: { Email: 1 } });
  });

  it('streams answers through the held-back window', async () => {
    const stream = await client.chat.completions.create({ model: 'guarded-chat', stream: true, messages: [{ role: 'user', content: 'Hello!' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text.split(' ').length).toBeGreaterThan(10);
  });
});
