import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Issue 20: the same public model name in two namespaces; each team must get its own route.
const TEAMS = ['team-a', 'team-b'] as const;
const up = {} as Record<(typeof TEAMS)[number], OpenAiUpstream>;
let gateway: TestGateway;
const logged: string[] = [];

const provider = (team: string, url: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: upstream, namespace: ${team} }
spec:
  type: openai-compatible
  url: ${url}
  credentials: { secretRef: { name: upstream-key, key: apiKey } }
---
apiVersion: v1
kind: Secret
metadata: { name: upstream-key, namespace: ${team} }
stringData: { apiKey: sk-${team} }
---
apiVersion: v1
kind: Secret
metadata: { name: caller, namespace: ${team}, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-${team}-key }
`;

const route = (team: string, created: string, access = ''): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat-default, namespace: ${team}, creationTimestamp: "${created}" }
spec:
  model: chat-default
  retry: { attempts: 1 }
${access}  targets: [{ providerRef: { name: upstream }, model: m-${team} }]
`;

const outsider = `apiVersion: v1
kind: Secret
metadata: { name: caller, namespace: team-c, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-team-c-key }
`;

const client = (team: string): OpenAI => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: `tg-${team}-key`, maxRetries: 0 });
const ask = (team: string) => client(team).chat.completions.create({ model: 'chat-default', messages: [{ role: 'user', content: 'hi' }] }).withResponse();

beforeAll(async () => {
  for (const team of TEAMS) up[team] = await startOpenAiUpstream();
  gateway = await startTestGateway(
    {
      'providers.yaml': TEAMS.map((t) => provider(t, up[t].baseUrl)).join('---\n') + '---\n' + outsider,
      'routes.yaml': route('team-a', '2026-01-01T00:00:00Z') + '---\n' + route('team-b', '2026-02-01T00:00:00Z'),
    },
    { auth: new Authenticator({}), logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) }) },
  );
});

afterAll(async () => {
  await gateway?.close();
  for (const team of TEAMS) await up[team]?.close();
});

describe('one public model name in two namespaces', () => {
  it('serves each team on the route of its own namespace, not on the oldest one', async () => {
    for (const team of TEAMS) {
      const { response } = await ask(team);
      expect(response.headers.get('x-tollgate-route')).toBe(`${team}/chat-default`);
      expect(up[team].requests.at(-1)?.body.model).toBe(`m-${team}`);
    }
  });

  it('lists the model to each team, and refuses a caller that neither route admits, naming the model but neither route', async () => {
    for (const team of TEAMS) {
      const models = await client(team).models.list();
      expect(models.data.map((m) => m.id)).toEqual(['chat-default']);
    }
    expect((await client('team-c').models.list()).data).toEqual([]);
    // Without naming either route: their namespaces and names are other tenants'.
    const refused = await ask('team-c').catch((e: unknown) => e as { status: number; message: string });
    expect(refused).toMatchObject({ status: 403 });
    expect((refused as { message: string }).message).toContain('key:team-c/caller may not use model chat-default');
    expect((refused as { message: string }).message).not.toMatch(/team-a|team-b/);
  });

  it('with both routes open to all namespaces: each team still gets its own, other namespaces the oldest', async () => {
    const open = '  access: { namespaces: { from: All } }\n';
    gateway.write('routes.yaml', route('team-a', '2026-01-01T00:00:00Z', open) + '---\n' + route('team-b', '2026-02-01T00:00:00Z', open));
    expect((await ask('team-b')).response.headers.get('x-tollgate-route')).toBe('team-b/chat-default');
    expect((await ask('team-a')).response.headers.get('x-tollgate-route')).toBe('team-a/chat-default');
    expect((await ask('team-c')).response.headers.get('x-tollgate-route')).toBe('team-a/chat-default');
  });

  it("a Secret in team-b copying team-a's key does not take team-a's caller: the first holder keeps it and dev logs the copy and the keeper", async () => {
    // Manifests carry no creation time: the first by namespace/name keeps the key (in a cluster, the oldest).
    const copy = `apiVersion: v1
kind: Secret
metadata: { name: zz-copy, namespace: team-b, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-team-a-key }
`;
    expect(gateway.write('copy.yaml', copy).errors).toEqual([]);
    const seenByB = up['team-b'].requests.length;
    expect((await ask('team-a')).response.headers.get('x-tollgate-route')).toBe('team-a/chat-default');
    expect(up['team-a'].requests.at(-1)?.body.model).toBe('m-team-a');
    expect(up['team-b'].requests).toHaveLength(seenByB);
    expect(logged.join('')).toMatch(/Secret team-b\/zz-copy: DuplicateApiKey: API key not served: Secret team-a\/caller holds the same key/);
    // And the keeper, whose owner learns its key was copied (dev's log, like the operator's, names the copy).
    expect(logged.join('')).toMatch(/"copies":\["team-b\/zz-copy"\].*Secret team-a\/caller: DuplicateApiKey: API key copied: a Secret in another namespace holds the same key/);
    expect(logged.join('')).not.toContain('tg-team-a-key');
    gateway.write('copy.yaml', '');
  });
});
