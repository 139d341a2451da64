import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyOrRefusal, type Conditioned, conditionOf, dataplaneService, eventually, POD_NET, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster } from './harness.js';

const DP = `${POD_NET}.70`;

let k: TestCluster;
let operator: Proc;
let dataplane: Proc;

beforeAll(async () => {
  k = await startTestCluster();
  k.kubectl(['create', 'namespace', 'team-a']);
  k.kubectl(['create', 'namespace', 'team-b']);
  dataplane = startDataplane(DP);
  k.apply(dataplaneService([DP]));
  operator = startOperator(k.operatorKubeconfig, { port: 19171, identity: 'operator-dp' });
}, 120_000);

afterAll(async () => {
  await operator?.kill();
  await dataplane?.kill();
  await k?.stop();
});

const policy = (name: string, namespace: string, spec: string) => `apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;
const otlp = '  destinations: [{ name: collector, otlpLogs: { endpoint: "http://127.0.0.1:4318" } }]\n';

const apply = (manifest: string): string => applyOrRefusal(k, manifest);

describe('DataPolicy on a real API server', () => {
  it('accepts a policy with defaults, shows printer columns and kubectl explain', () => {
    expect(apply(policy('audit', 'team-a', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Redacted, sampleRate: 0.5 }\n' + otlp))).toBe('');
    expect(k.kubectl(['get', 'datapolicy', 'audit', '-n', 'team-a', '-o', 'jsonpath={.spec.capture.parts}'])).toBe('["Request","Response"]');
    expect(k.kubectl(['get', 'datapolicy', 'audit', '-n', 'team-a', '-o', 'jsonpath={.spec.redaction.detectors[2]}'])).toBe('PaymentCard');
    const table = k.kubectl(['get', 'datapolicies', '-n', 'team-a']);
    expect(table.split('\n')[0]).toMatch(/NAME\s+MODE\s+SAMPLE\s+ACCEPTED\s+AGE/);
    expect(table).toMatch(/audit\s+Redacted\s+0.5/);
    expect(k.kubectl(['get', 'dp', '-n', 'team-a', '-o', 'wide']).split('\n')[0]).toMatch(/CONTENT-RETENTION\s+METADATA-RETENTION/);
    expect(k.kubectl(['explain', 'datapolicy.spec.capture.mode'])).toMatch(/Metadata: caller, route, model, tokens/);
  });

  it.each([
    ['unknown-detector', '  subjects: { namespaces: [team-a] }\n  redaction: { detectors: [Passport] }\n', 'Unsupported value: "Passport"'],
    ['no-subjects', '  subjects: {}\n', 'subjects must name at least one namespace'],
    ['mode-without-destination', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Full }\n', 'a capture mode other than None needs at least one destination'],
    [
      'short-retention',
      '  subjects: { namespaces: [team-a] }\n  capture: { mode: Full }\n  retention: { content: 30s }\n  destinations: [{ name: b, s3: { endpoint: "http://127.0.0.1:8333", bucket: captures, credentialsSecretRef: { name: s3 }, batchInterval: 1m } }]\n',
      'retention.content must be at least every s3 destination batchInterval',
    ],
    ['two-kinds', '  subjects: { namespaces: [team-a] }\n  destinations: [{ name: b, otlpLogs: { endpoint: "http://x:4318" }, localDirectory: { path: /tmp } }]\n', 'a destination sets exactly one of otlpLogs, s3, localDirectory'],
    ['same-names', '  subjects: { namespaces: [team-a] }\n  destinations: [{ name: b, otlpLogs: { endpoint: "http://x:4318" } }, { name: b, otlpLogs: { endpoint: "http://y:4318" } }]\n', 'destination names must be unique'],
    ['bad-sample', '  subjects: { namespaces: [team-a] }\n  capture: { sampleRate: 1.5 }\n', 'sampleRate'],
  ])('refuses %s at apply', (name, spec, message) => {
    expect(apply(policy(name, 'team-a', spec))).toContain(message);
  });

  it('sets Accepted=False naming the field for a pattern RE2 refuses, without blocking another tenant', async () => {
    k.apply(policy('bad-pattern', 'team-b', '  subjects: { namespaces: [team-b] }\n  capture: { mode: Redacted }\n  redaction: { customPatterns: [{ name: ticket, pattern: "(?<=x)y" }] }\n' + otlp));
    const bad = await eventually(() => {
      const c = conditionOf(k.get<Conditioned>('datapolicy', 'bad-pattern', 'team-b'), 'Accepted');
      if (c?.status !== 'False') throw new Error(`Accepted is ${c?.status}`);
      return c;
    }, 'Accepted=False on the bad DataPolicy', 60_000);
    expect(bad.reason).toBe('Invalid');
    expect(bad.message).toContain('spec.redaction.customPatterns[0].pattern');
    const good = await eventually(() => {
      const obj = k.get<Conditioned>('datapolicy', 'audit', 'team-a');
      if (conditionOf(obj, 'Programmed')?.status !== 'True') throw new Error('not programmed yet');
      return obj;
    }, 'the other tenant programmed', 60_000);
    expect(conditionOf(good, 'Accepted')?.status).toBe('True');
    expect(conditionOf(good, 'Conflicted')?.status).toBe('False');
  });

  it('reports a younger policy claiming the same namespace as Conflicted', async () => {
    k.apply(policy('second', 'team-a', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Metadata }\n' + otlp));
    const c = await eventually(() => {
      const cond = conditionOf(k.get<Conditioned>('datapolicy', 'second', 'team-a'), 'Conflicted');
      if (cond?.status !== 'True') throw new Error(`Conflicted is ${cond?.status}`);
      return cond;
    }, 'Conflicted=True on the younger policy', 60_000);
    expect(c.message).toContain('namespace team-a (DataPolicy team-a/audit applies)');
  });
});
