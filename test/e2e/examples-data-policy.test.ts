import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { jsonLines } from '../support/capture-files.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// examples/data-policy/ (issue 16's "done when"): dev/ runs with `tollgate dev` and records to a
// local directory; cluster/ is what a platform team applies, accepted as it stands.

const read = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );

let out: string;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'tollgate-example-captures-'));
  // The example records under ./captures of the directory tollgate dev runs in; here, a temporary one.
  const files = Object.fromEntries(Object.entries(read('examples/data-policy/dev')).map(([name, text]) => [name, text.replaceAll('./captures', out)]));
  gateway = await startTestGateway(files, { admin: true, capture: { flushIntervalMs: 20 } });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('examples/data-policy', () => {
  it('dev/ and cluster/ are valid and accepted', () => {
    for (const dir of ['examples/data-policy/dev', 'examples/data-policy/cluster']) {
      const loaded = loadManifests(Object.entries(read(dir)).map(([path, content]) => ({ path, content })));
      expect(loaded.errors).toEqual([]);
      const { snapshot, statuses } = compile({ ...loaded.input, localCaptureDestinations: dir.endsWith('dev') });
      const policies = statuses.filter((s) => s.kind === 'DataPolicy');
      expect(policies.length).toBeGreaterThan(0);
      // cluster/ names the team's own route (team-a/hr-chat), which is not among the example files.
      const routeOfTheTeam = (c: { type: string; reason: string }): boolean => dir.endsWith('cluster') && c.type === 'ResolvedRefs' && c.reason === 'RouteNotFound';
      for (const p of policies) expect(p.conditions.filter((c) => (c.type === 'Conflicted' ? c.status !== 'False' : c.status !== 'True') && !routeOfTheTeam(c))).toEqual([]);
      expect(snapshot.dataPolicies?.length).toBe(policies.length);
    }
  });

  it('support-chat leaves a redacted record in the local directory; hr-chat leaves none', async () => {
    const res = await client.chat.completions
      .create({ model: 'support-chat', messages: [{ role: 'user', content: 'TICKET-123456: ann@example.com cannot pay with 4111 1111 1111 1111' }] })
      .withResponse();
    await client.chat.completions.create({ model: 'hr-chat', messages: [{ role: 'user', content: 'hr-secret-zq' }] });
    const requestId = res.response.headers.get('x-request-id');
    const deadline = Date.now() + 20_000;
    while (!jsonLines(join(out, 'support', 'content')).some((c) => c.requestId === requestId)) {
      if (Date.now() > deadline) throw new Error('no record in the example directory');
      await new Promise((r) => setTimeout(r, 20));
    }
    const meta = jsonLines(join(out, 'support', 'metadata')).find((m) => m.requestId === requestId);
    expect(meta).toMatchObject({ route: 'default/support-chat', policy: { id: 'default/support-audit', mode: 'Redacted' }, status: 200 });
    const content = JSON.stringify(jsonLines(join(out, 'support', 'content')).find((c) => c.requestId === requestId));
    expect(content).toContain('[TICKET_ID]: [EMAIL] cannot pay with [PAYMENT_CARD]');
    expect(readdirSync(out).sort()).toEqual(['support']);
    const explain = await fetch(`${gateway.adminUrl as string}/debug/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.adminToken}` },
      body: JSON.stringify({ model: 'hr-chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(((await explain.json()) as { decision: { dataPolicy: unknown } }).decision.dataPolicy).toMatchObject({ policy: 'default/hr-no-capture', mode: 'None' });
  });
});
