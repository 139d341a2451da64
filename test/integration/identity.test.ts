import { createSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { kubeApiFromKubeconfig } from '../../dataplane/governance/identity/kube-api.js';
import { KubeTokenReviewer, type ReviewResult, type TokenReviewer } from '../../dataplane/governance/identity/token-reviewer.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { startTestCluster, type TestCluster } from './harness.js';

let k: TestCluster;
let upstream: OpenAiUpstream;
let gateway: TestGateway;
let reviews: CountingReviewer;

/** The real TokenReview client, counting the reviews it sends to the API server. */
class CountingReviewer implements TokenReviewer {
  calls = 0;
  constructor(private readonly inner: TokenReviewer) {}
  review(token: string, audience: string): Promise<ReviewResult> {
    this.calls++;
    return this.inner.review(token, audience);
  }
}

const routes = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: team-chat, namespace: team-a }
spec:
  model: team-chat
  targets: [{ providerRef: { name: up, namespace: default }, model: m }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: public-chat, namespace: team-a }
spec:
  model: public-chat
  targets: [{ providerRef: { name: up, namespace: default }, model: m }]
  access: { anonymous: true }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: partner-chat, namespace: team-a }
spec:
  model: partner-chat
  targets: [{ providerRef: { name: up, namespace: default }, model: m }]
  access: { apiKeys: { selector: { matchLabels: { partner: "yes" } }, namespaces: [partners] } }
---
apiVersion: v1
kind: Secret
metadata: { name: ci-key, namespace: team-a, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-team-a-key }
---
apiVersion: v1
kind: Secret
metadata: { name: partner-key, namespace: partners, labels: { tollgate.dev/api-key: "true", partner: "yes" } }
stringData: { key: tg-partner-key }
---
# Another tenant labels its own key to match the partner route's selector: its namespace is not trusted.
apiVersion: v1
kind: Secret
metadata: { name: forged-key, namespace: team-b, labels: { tollgate.dev/api-key: "true", partner: "yes" } }
stringData: { key: tg-forged-key }
`;

const anonymous = async (model: string) => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, message: ((await res.json()) as { error?: { message: string } }).error?.message ?? '' };
};
const chat = (model: string, apiKey: string) =>
  new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
const statusOf = async (p: Promise<unknown>) => ((await p.then(() => ({ status: 200 })).catch((e: unknown) => e)) as { status: number; message?: string });

function token(namespace: string, sa: string, audience = 'tollgate'): string {
  return k.kubectl(['create', 'token', sa, '-n', namespace, '--audience', audience, '--duration', '1h']).trim();
}

/** A ServiceAccount JWT signed with the cluster's own key but already expired. */
function expiredToken(namespace: string, sa: string): string {
  const uid = k.kubectl(['get', 'sa', sa, '-n', namespace, '-o', 'jsonpath={.metadata.uid}']);
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = enc({ alg: 'RS256', typ: 'JWT' });
  const payload = enc({
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: `system:serviceaccount:${namespace}:${sa}`,
    aud: ['tollgate'],
    iat: now - 7200,
    nbf: now - 7200,
    exp: now - 3600,
    'kubernetes.io': { namespace, serviceaccount: { name: sa, uid } },
  });
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(readFileSync(join(k.cluster.stateDir, 'pki', 'sa.key')), 'base64url');
  return `${header}.${payload}.${signature}`;
}

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  for (const ns of ['team-a', 'team-b', 'partners']) k.kubectl(['create', 'namespace', ns]);
  for (const [ns, sa] of [['team-a', 'app'], ['team-a', 'doomed'], ['team-b', 'other'], ['tollgate-system', 'tollgate-dataplane']] as const) {
    k.kubectl(['create', 'serviceaccount', sa, '-n', ns]);
  }
  // The data plane's own identity may create TokenReviews and nothing else.
  k.kubectl(['create', 'clusterrolebinding', 'tollgate-dataplane-auth', '--clusterrole=system:auth-delegator', '--serviceaccount=tollgate-system:tollgate-dataplane']);
  const admin = yaml.load(readFileSync(k.kubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, string> }[] };
  const dpKubeconfig = join(k.cluster.stateDir, 'dataplane.kubeconfig');
  writeFileSync(
    dpKubeconfig,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: admin.clusters,
      users: [{ name: 'dp', user: { token: token('tollgate-system', 'tollgate-dataplane', 'https://kubernetes.default.svc.cluster.local') } }],
      contexts: [{ name: 'dp', context: { cluster: admin.clusters[0]?.name, user: 'dp' } }],
      'current-context': 'dp',
    }),
  );
  gateway = await startTestGateway(
    { 'provider.yaml': `${openAiProvider('up', upstream.baseUrl, '  allowedRoutes: { namespaces: { from: All } }\n')}`, 'routes.yaml': routes },
    // Refusals kept for the whole file: the 500 hostile tokens took longer than the default 10 s at
    // load 45, and a forged token's refusal expired between two of its batches (reviewed twice).
    { auth: new Authenticator({ reviewer: (reviews = new CountingReviewer(new KubeTokenReviewer(kubeApiFromKubeconfig(dpKubeconfig)))), cacheTtlMs: 60_000, refusalTtlMs: 600_000 }) },
  );
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await k?.stop();
});

describe('caller identity and route access', () => {
  it('authenticates a ServiceAccount token of audience tollgate minted with the TokenRequest API', async () => {
    const res = await chat('team-chat', token('team-a', 'app'));
    expect(res.choices[0]?.message.content).toBe('hello from upstream');
  });

  it("refuses a ServiceAccount of another namespace with 403 naming the model, never the other namespace's route", async () => {
    const err = await statusOf(chat('team-chat', token('team-b', 'other')));
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/sa:team-b\/other may not use model team-chat/);
    expect(err.message).not.toContain('team-a');
  });

  it('refuses a token of another audience, an expired token and a deleted ServiceAccount with 401', async () => {
    expect((await statusOf(chat('team-chat', token('team-a', 'app', 'https://kubernetes.default.svc.cluster.local')))).status).toBe(401);
    // As on a real cluster, a token made without --audience is for the API server only.
    const apiOnly = k.kubectl(['create', 'token', 'app', '-n', 'team-a', '--duration', '1h']).trim();
    expect((await statusOf(chat('team-chat', apiOnly))).status).toBe(401);
    const expired = await statusOf(chat('team-chat', expiredToken('team-a', 'app')));
    expect(expired.status).toBe(401);
    const doomed = token('team-a', 'doomed');
    k.kubectl(['delete', 'serviceaccount', 'doomed', '-n', 'team-a']);
    expect((await statusOf(chat('team-chat', doomed))).status).toBe(401);
  });

  it('asks for a credential (401) where a route does not allow anonymous callers, and serves anonymous where it does', async () => {
    const err = await anonymous('team-chat');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/model team-chat requires a ServiceAccount token or an API key/);
    expect((await anonymous('public-chat')).status).toBe(200);
  });

  it('accepts API keys from labelled Secrets by namespace or label selector, and refuses unknown keys', async () => {
    expect((await statusOf(chat('team-chat', 'tg-team-a-key'))).status).toBe(200);
    expect((await statusOf(chat('partner-chat', 'tg-partner-key'))).status).toBe(200);
    // Labels of a namespace the route does not name admit nothing.
    expect((await statusOf(chat('partner-chat', 'tg-forged-key'))).status).toBe(403);
    expect((await statusOf(chat('team-chat', 'tg-partner-key'))).status).toBe(403);
    expect((await statusOf(chat('team-chat', 'tg-wrong'))).status).toBe(401);
  });

  it('lists only the models the caller may use', async () => {
    const list = async (apiKey: string) => {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
      return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
    };
    // Same namespace as every route; the partner route admits its namespace too.
    expect(await list(token('team-a', 'app'))).toEqual(['partner-chat', 'public-chat', 'team-chat']);
    expect(await list(token('team-b', 'other'))).toEqual(['public-chat']);
    expect(await list('tg-partner-key')).toEqual(['partner-chat', 'public-chat']);
    expect(await list('tg-forged-key')).toEqual(['public-chat']);
    expect(await list('')).toEqual(['public-chat']);
  });

  it('500 hostile tokens cost the API server at most one TokenReview per distinct plausible token', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const rand = () => Buffer.from(Array.from({ length: 48 }, () => Math.floor(Math.random() * 256))).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 600;
    // Signed with a key the API server does not know: only TokenReview can refuse these.
    const forged = Array.from({ length: 10 }, (_, i) => `${b64({ alg: 'RS256' })}.${b64({ aud: ['tollgate'], exp, sub: `forged-${i}` })}.${rand()}`);
    const otherAudience = token('team-a', 'app', 'https://kubernetes.default.svc.cluster.local');
    const hostile = Array.from({ length: 500 }, (_, i) => (i % 10 === 0 ? (forged[(i / 10) % 10] as string) : i % 10 === 1 ? otherAudience : `eyJ${rand()}.${rand()}.${rand()}`));
    const before = reviews.calls;
    const statuses: number[] = [];
    for (let i = 0; i < hostile.length; i += 50) {
      const batch = hostile.slice(i, i + 50).map(async (t) => {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
          body: JSON.stringify({ model: 'team-chat', messages: [{ role: 'user', content: 'hi' }] }),
        });
        await res.arrayBuffer();
        return res.status;
      });
      statuses.push(...(await Promise.all(batch)));
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(reviews.calls - before).toBeLessThanOrEqual(forged.length);
    expect(reviews.calls - before).toBeGreaterThan(0);
  });
});
