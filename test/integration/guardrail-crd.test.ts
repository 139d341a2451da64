import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import OpenAI from 'openai';
import { anonymousRoute, type Conditioned, conditionOf, dataplaneService, eventually, POD_NET, pricedUpstream, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

const DP = `${POD_NET}.2`;

let k: TestCluster;
let upstream: OpenAiUpstream;
let operator: Proc;
let dataplane: Proc;

beforeAll(async () => {
  k = await startTestCluster();
  upstream = await startOpenAiUpstream();
  k.kubectl(['create', 'namespace', 'team-a']);
  dataplane = startDataplane(DP, { operatorUrl: 'http://127.0.0.1:19095' });
  k.apply(dataplaneService([DP]));
  operator = startOperator(k.operatorKubeconfig, { port: 19095, identity: 'operator-guardrail', args: ['--guardrail-events-interval', '1'] });
}, 120_000);

afterAll(async () => {
  await operator?.kill();
  await dataplane?.kill();
  await upstream?.close();
  await k?.stop();
});

const policy = (name: string, rules: string, extra = '') => `apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: ${name}, namespace: team-a }
spec:
  subjects: { namespaces: [team-a] }
${extra}  rules:
${rules}`;
const rule = (detector: string, more = 'phase: Request, action: Block') => `    - { name: r, ${more}, detector: ${detector} }\n`;

function apply(manifest: string): string {
  try {
    k.apply(manifest);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('GuardrailPolicy on a real API server', () => {
  it.each([
    ['an unknown built-in detector', rule('{ builtin: [Passport] }'), 'Unsupported value: "Passport"'],
    ['no detector', rule('{}'), 'detector needs exactly one of builtin, patterns, denyList, maxPromptTokens, webhook, moderation'],
    ['two detectors', rule('{ builtin: [Email], maxPromptTokens: 10 }'), 'detector needs exactly one of'],
    ['a webhook without a timeout', rule('{ webhook: { url: "http://guard.team-a.svc:8080/" } }'), 'spec.rules[0].detector.webhook.timeout: Required value'],
    ['a webhook with url and serviceRef', rule('{ webhook: { url: "http://x/", serviceRef: { name: s, port: 80 }, timeout: 1s } }'), 'webhook needs exactly one of url and serviceRef'],
    ['a pattern RE2 cannot compile', rule('{ patterns: [{ name: emp, pattern: "EMP-(\\\\d" }] }', 'phase: Request, action: Mask'), 'pattern must be a valid RE2 regular expression'],
    ['a look-ahead pattern', rule('{ patterns: [{ name: emp, pattern: "(?=a)b" }] }', 'phase: Request, action: Mask'), 'pattern must be a valid RE2 regular expression'],
    ['Mask with moderation', rule('{ moderation: { providerRef: { name: p } } }', 'phase: Request, action: Mask'), 'action Mask needs a detector that finds spans'],
    ['maxPromptTokens on responses', rule('{ maxPromptTokens: 10 }', 'phase: Response, action: Block'), 'maxPromptTokens is only allowed in phase Request'],
    ['an unknown action', rule('{ builtin: [Email] }', 'phase: Request, action: Redact'), 'Unsupported value: "Redact"'],
    ['two rules with one name', rule('{ builtin: [Email] }') + rule('{ builtin: [Phone] }'), 'Duplicate value'],
  ])('refuses %s at apply, naming the field', (_what, rules, message) => {
    expect(apply(policy('bad', rules))).toContain(message);
  });

  it('shows printer columns and kubectl explain descriptions', () => {
    expect(apply(policy('columns', rule('{ builtin: [PaymentCard] }') + '    - { name: mail, phase: Response, action: Mask, detector: { builtin: [Email] } }\n'))).toBe('');
    const table = k.kubectl(['get', 'guardrailpolicies', '-n', 'team-a']);
    expect(table.split('\n')[0]).toMatch(/NAME\s+ACCEPTED\s+RESOLVED\s+PROGRAMMED\s+AGE/);
    expect(table).toMatch(/^columns\s/m);
    expect(k.kubectl(['get', 'grp', '-n', 'team-a', '-o', 'wide'])).toMatch(/HOLD-BACK[\s\S]*columns\s.*\s128\s/);
    const explain = (path: string) => k.kubectl(['explain', path]).replace(/\s+/g, ' ');
    expect(explain('guardrailpolicy.spec.rules.detector.webhook.failureMode')).toMatch(/Open lets the content through .* Closed blocks it/);
    expect(explain('guardrailpolicy.spec.streaming.holdBackChars')).toMatch(/held back and checked before they are released/);
  });

  it('gets conditions from the operator: Accepted and Programmed, Accepted=False naming the field, ResolvedRefs=False for a moderation Provider', async () => {
    k.apply(`apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: claude, namespace: team-a }
spec: { type: mock }
`);
    const patterns = Array.from({ length: 7 }, (_, i) => `{ name: p${i}, pattern: "x${i}[0-9]{1,600}" }`).join(', ');
    k.apply(policy('complex', rule(`{ patterns: [${patterns}] }`, 'phase: Request, action: Mask')));
    k.apply(policy('moderated', rule('{ moderation: { providerRef: { name: claude } } }')));
    const conditions = (name: string) => k.get<Conditioned>('guardrailpolicy', name, 'team-a');
    await eventually(() => {
      const ok = conditions('columns');
      if (conditionOf(ok, 'Programmed')?.status !== 'True') throw new Error(JSON.stringify(ok.status));
      expect(conditionOf(ok, 'Accepted')?.status).toBe('True');
    }, 'GuardrailPolicy columns Programmed', 30_000);
    await eventually(() => {
      const bad = conditionOf(conditions('complex'), 'Accepted');
      expect(bad).toMatchObject({ status: 'False', reason: 'Invalid' });
      expect(bad?.message).toMatch(/^spec\.rules\[0\]\.detector\.patterns: too complex together/);
    }, 'GuardrailPolicy complex refused');
    await eventually(() => {
      const refs = conditionOf(conditions('moderated'), 'ResolvedRefs');
      expect(refs).toMatchObject({ status: 'False', reason: 'InvalidKind' });
      expect(refs?.message).toContain('moderation needs type openai or openai-compatible');
    }, 'GuardrailPolicy moderated ResolvedRefs=False');
    const events = k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.kind=GuardrailPolicy,reason=InvalidKind', '-o', 'name']);
    expect(events.trim()).not.toBe('');
  });

  it('checks that a webhook Service exists, has the port and a ready endpoint (ResolvedRefs), following the Service and its EndpointSlices', async () => {
    k.apply(policy('hooked', rule('{ webhook: { serviceRef: { name: guard, port: 8080, path: /check }, timeout: 1s } }')));
    const refs = () => conditionOf(k.get<Conditioned>('guardrailpolicy', 'hooked', 'team-a'), 'ResolvedRefs');
    await eventually(() => {
      expect(refs()).toMatchObject({ status: 'False', reason: 'ServiceNotFound', message: 'rule r: Service team-a/guard not found: create it or fix spec.rules[0].detector.webhook.serviceRef.name' });
    }, 'webhook Service not found');
    k.apply(`apiVersion: v1
kind: Service
metadata: { name: guard, namespace: team-a }
spec: { ports: [{ name: http, port: 80, targetPort: 8080 }] }
`);
    await eventually(() => expect(refs()).toMatchObject({ status: 'False', reason: 'ServicePortNotFound' }), 'webhook Service port not found');
    k.apply(`apiVersion: v1
kind: Service
metadata: { name: guard, namespace: team-a }
spec: { ports: [{ name: http, port: 8080, targetPort: 8080 }] }
`);
    await eventually(() => expect(refs()).toMatchObject({ status: 'False', reason: 'NoReadyEndpoints' }), 'webhook Service without endpoints');
    k.apply(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: guard-1, namespace: team-a, labels: { kubernetes.io/service-name: guard } }
addressType: IPv4
endpoints: [{ addresses: [10.99.0.7], conditions: { ready: true } }]
ports: [{ name: http, port: 8080 }]
`);
    await eventually(() => expect(refs()).toMatchObject({ status: 'True' }), 'webhook Service resolved');
    expect(conditionOf(k.get<Conditioned>('guardrailpolicy', 'hooked', 'team-a'), 'Programmed')?.status).toBe('True');
  });

  it('aggregates decisions into Events on the policy: counts per rule and action, no content, not one per request', async () => {
    // The earlier tests' policies name namespace team-a, which governs anonymous callers of its routes
    // too (as for Budgets): only this test's policy decides here.
    k.kubectl(['delete', 'guardrailpolicy', '--all', '-n', 'team-a']);
    k.apply(`${pricedUpstream('team-a', upstream.baseUrl)}---
${anonymousRoute('team-a', 'guarded')}---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: tally, namespace: team-a }
spec:
  subjects: { routes: [{ name: guarded }] }
  rules:
    - { name: no-cards, phase: Request, action: Block, detector: { builtin: [PaymentCard] } }
`);
    const client = new OpenAI({ baseURL: `http://${DP}:8080/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 });
    const send = () => client.chat.completions.create({ model: 'guarded', messages: [{ role: 'user', content: 'pay 4111 1111 1111 1111' }] }).catch((e: unknown) => e);
    await eventually(async () => expect(String(await send())).toContain('team-a/tally'), 'the policy blocks on the data plane', 30_000);
    for (let i = 0; i < 4; i++) await send();
    const events = () =>
      JSON.parse(k.kubectl(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.kind=GuardrailPolicy,involvedObject.name=tally,reason=GuardrailDecisions', '-o', 'json'])) as {
        items: { type: string; message: string }[];
      };
    await eventually(() => {
      const total = events().items.reduce((n, e) => n + Number(/no-cards Block×(\d+)/.exec(e.message)?.[1] ?? 0), 0);
      expect(total).toBeGreaterThanOrEqual(5);
    }, 'aggregated GuardrailDecisions Events', 30_000);
    const items = events().items;
    expect(items.length).toBeLessThan(5);
    expect(items[0]?.type).toBe('Warning');
    expect(JSON.stringify(items)).not.toContain('4111');
  });
});
