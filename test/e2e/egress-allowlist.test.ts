import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';
import { setEgressAllowlist } from '../../dataplane/config/egress-guard.js';
import { routeManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// The platform's egress allowlist end to end: `tollgate dev` compiles with it and connects through
// it (the process-wide setting `--egress-allow-hosts/--egress-allow-cidrs` makes). Everything stays
// on loopback: the upstream listens on 127.0.0.1, and what is refused is refused before a packet.

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

const allow = (hosts: string[], cidrs: string[]): void => {
  const parsed = parseEgressAllowlist(hosts, cidrs);
  if (!parsed.ok) throw new Error(parsed.error);
  setEgressAllowlist(parsed.allowlist);
};

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  const port = new URL(upstream.baseUrl).port;
  allow(['localhost'], ['127.0.0.1/32']);
  gateway = await startTestGateway({
    'providers.yaml': [
      openAiProvider('literal', upstream.baseUrl),
      openAiProvider('byname', `http://localhost:${port}/v1`),
      openAiProvider('outside', `http://127.0.0.2:${port}/v1`),
    ].join('---\n'),
    'routes.yaml': `${routeManifest('literal', [['literal', 'm']])}${routeManifest('byname', [['byname', 'm']])}${routeManifest('outside', [['outside', 'm']])}`,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  setEgressAllowlist(undefined);
  await gateway?.close();
  await upstream?.close();
});

afterEach(() => allow(['localhost'], ['127.0.0.1/32']));

const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
const failure = async (p: Promise<unknown>) => (await p.catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;

describe('the platform egress allowlist', () => {
  it('serves a listed address and a listed name; refuses an unlisted address at compile, saying whom to ask', async () => {
    expect((await ask('literal')).choices[0]?.message.content).toBeTypeOf('string');
    expect((await ask('byname')).choices[0]?.message.content).toBeTypeOf('string');
    // The Provider's status says why (operator/compile/egress-check.test.ts); the client is told where to look.
    const err = await failure(ask('outside'));
    expect(err.status).toBe(503);
    expect(err.message).toContain('has no usable target: ProviderNotReady (default/outside)');
    expect(upstream.requests.length).toBe(2);
  });

  it('refuses at connect a name that is not listed and resolves outside the listed networks', async () => {
    // localhost may resolve into a listed network, so compile keeps it: the connection decides. A
    // second upstream, so that no pooled connection from the first test is reused (the allowlist is
    // set at start in a real process; only new connections are looked up).
    const second = await startOpenAiUpstream();
    try {
      allow(['api.openai.com'], ['10.244.0.0/16']);
      gateway.write('second.yaml', `${openAiProvider('second', `http://localhost:${new URL(second.baseUrl).port}/v1`)}---\n${routeManifest('second', [['second', 'm']])}`);
      const err = await failure(ask('second'));
      expect(err.status).toBe(502);
      expect(err.message).toContain("default/second (m): the upstream was not called: neither its host nor its address is in the platform's egress allowlist");
      expect(second.requests).toEqual([]);
      // Listed by name, the same upstream answers.
      allow(['localhost'], []);
      expect((await ask('second')).choices[0]?.message.content).toBeTypeOf('string');
    } finally {
      await second.close();
    }
  });
});

describe('the flags and their environment variables', () => {
  const compileWith = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'cli/tollgate.ts', 'compile', '-f', gateway.dir], { encoding: 'utf8', env: { ...process.env, ...env } });

  it('tollgate compile reports what the allowlist in the environment refuses, and stops at an entry it cannot read', () => {
    const out = compileWith({ TOLLGATE_EGRESS_ALLOW_HOSTS: 'llm.example.com, localhost' });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain("spec.url: 127.0.0.1 is not in the platform's egress allowlist (hosts: llm.example.com, localhost; networks: none)");
    const bad = compileWith({ TOLLGATE_EGRESS_ALLOW_CIDRS: '10.0.0.0/8,10.1.0.0/99' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--egress-allow-hosts/--egress-allow-cidrs: "10.1.0.0/99": the prefix length must be 0 to 32');
  });
});
