import { describe, expect, it } from 'vitest';
import { DataPolicySchema } from '../api/data-policy.js';
import { dataPolicy, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import type { Caller } from '../../dataplane/core/caller.js';
import { selectPolicy } from '../../dataplane/policy/capture/select-policy.js';
import type { CompileInput, ObjectStatus, SecretInput } from './types.js';

const openai = provider('openai', { type: 'openai', credentials: { secretRef: { name: 'openai', key: 'apiKey' } }, models: [{ name: 'gpt-4o' }] });
const chat = route('chat', { model: 'chat', targets: [{ providerRef: { name: 'openai' }, model: 'gpt-4o' }] });
const secrets: SecretInput[] = [
  { namespace: 'default', name: 'openai', data: { apiKey: 'sk-1' } },
  { namespace: 'default', name: 's3', data: { accessKeyId: 'AKID', secretAccessKey: 'shh' } },
];
const s3 = { name: 'bucket', s3: { endpoint: 'http://127.0.0.1:8333', bucket: 'captures', credentialsSecretRef: { name: 's3' } } };
const otlp = { name: 'collector', otlpLogs: { endpoint: 'http://127.0.0.1:4318/' } };

function input(partial: Partial<CompileInput>): CompileInput {
  return { providers: [openai], routes: [chat], budgets: [], secrets, ...partial };
}

function conditions(statuses: ObjectStatus[], name: string, namespace = 'default'): Record<string, { status: string; reason: string; message: string }> {
  const s = statuses.find((x) => x.kind === 'DataPolicy' && x.name === name && x.namespace === namespace);
  if (s === undefined) throw new Error(`no status for ${namespace}/${name}`);
  return Object.fromEntries(s.conditions.map((c) => [c.type, c]));
}

describe('compile DataPolicies', () => {
  it('compiles a policy with defaults, secrets resolved, into the snapshot', () => {
    const p = dataPolicy('audit', { subjects: { namespaces: ['default'] }, capture: { mode: 'Redacted' }, retention: { content: '720h', metadata: '8760h' }, destinations: [s3, otlp] });
    const { snapshot, statuses } = compile(input({ dataPolicies: [p] }));
    expect(snapshot.dataPolicies).toHaveLength(1);
    const config = snapshot.dataPolicies![0]!;
    expect(config).toMatchObject({
      id: 'default/audit',
      mode: 'Redacted',
      sampleRate: 1,
      parts: { request: true, response: true },
      maxRecordBytes: 262144,
      allowOptOut: false,
      retention: { contentMs: 720 * 3_600_000, metadataMs: 8760 * 3_600_000 },
      subjects: { namespaces: ['default'], serviceAccounts: [], apiKeys: [], routes: [] },
    });
    expect(config.redaction.detectors).toContain('PaymentCard');
    const bucket = config.destinations[0];
    expect(bucket?.type === 's3' && bucket.accessKeyId.reveal()).toBe('AKID');
    expect(bucket).toMatchObject({ type: 's3', prefix: 'tollgate', region: 'us-east-1', batchIntervalMs: 60_000, maxBatchRecords: 1000 });
    expect(config.destinations[1]).toEqual({ type: 'otlpLogs', name: 'collector', endpoint: 'http://127.0.0.1:4318' });
    const c = conditions(statuses, 'audit');
    expect(c.Accepted?.status).toBe('True');
    expect(c.ResolvedRefs?.status).toBe('True');
    expect(c.Conflicted?.status).toBe('False');
  });

  it('leaves the snapshot (and its version) as it was when there is no DataPolicy', () => {
    const without = compile(input({}));
    expect(without.snapshot.dataPolicies).toBeUndefined();
    expect(compile(input({ dataPolicies: [] })).snapshot.version).toBe(without.snapshot.version);
  });

  it('refuses a bad custom pattern alone, naming the field, and keeps the other tenants', () => {
    const bad = dataPolicy('bad', { subjects: { namespaces: ['team-a'] }, capture: { mode: 'Redacted' }, redaction: { customPatterns: [{ name: 'x', pattern: '(a' }] }, destinations: [otlp] }, { namespace: 'team-a' });
    const good = dataPolicy('good', { subjects: { namespaces: ['team-b'] }, capture: { mode: 'Metadata' }, destinations: [otlp] }, { namespace: 'team-b' });
    const { snapshot, statuses } = compile(input({ dataPolicies: [bad, good] }));
    expect(snapshot.dataPolicies?.map((p) => p.id)).toEqual(['team-b/good']);
    const c = conditions(statuses, 'bad', 'team-a');
    expect(c.Accepted).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(c.Accepted?.message).toContain('spec.redaction.customPatterns[0].pattern');
  });

  it('refuses a localDirectory destination outside tollgate dev and accepts it in dev', () => {
    const p = dataPolicy('local', { subjects: { namespaces: ['default'] }, capture: { mode: 'Full' }, destinations: [{ name: 'disk', localDirectory: { path: '/tmp/x' } }] });
    const cluster = compile(input({ dataPolicies: [p] }));
    expect(cluster.snapshot.dataPolicies).toBeUndefined();
    expect(conditions(cluster.statuses, 'local').Accepted?.message).toContain('spec.destinations[0].localDirectory');
    const dev = compile(input({ dataPolicies: [p], localCaptureDestinations: true }));
    expect(dev.snapshot.dataPolicies?.[0]?.destinations).toEqual([{ type: 'localDirectory', name: 'disk', path: '/tmp/x' }]);
  });

  it('reports a missing credentials Secret and sends that destination nothing', () => {
    const p = dataPolicy('nokey', { subjects: { namespaces: ['default'] }, capture: { mode: 'Metadata' }, destinations: [{ ...s3, s3: { ...s3.s3, credentialsSecretRef: { name: 'missing' } } }, otlp] });
    const { snapshot, statuses } = compile(input({ dataPolicies: [p] }));
    expect(snapshot.dataPolicies?.[0]?.destinations.map((d) => d.name)).toEqual(['collector']);
    expect(conditions(statuses, 'nokey').ResolvedRefs).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
  });

  it('orders policies oldest first and reports the younger one conflicting on a shared subject', () => {
    const older = dataPolicy('older', { subjects: { namespaces: ['default'] }, capture: { mode: 'Metadata' }, destinations: [otlp] }, { creationTimestamp: '2026-01-01T00:00:00Z' });
    const younger = dataPolicy('a-younger', { subjects: { namespaces: ['default'], routes: [{ name: 'chat' }] }, capture: { mode: 'Full' }, destinations: [otlp] }, { creationTimestamp: '2026-02-01T00:00:00Z' });
    const { snapshot, statuses } = compile(input({ dataPolicies: [younger, older] }));
    expect(snapshot.dataPolicies?.map((p) => p.id)).toEqual(['default/older', 'default/a-younger']);
    expect(conditions(statuses, 'older').Conflicted?.status).toBe('False');
    const c = conditions(statuses, 'a-younger');
    expect(c.Conflicted).toMatchObject({ status: 'True', reason: 'SubjectClaimed' });
    expect(c.Conflicted?.message).toContain('namespace default (DataPolicy default/older applies)');
    expect(c.Accepted?.status).toBe('True');
  });

  it("governs a namespace's callers by the platform's policy first: a tenant's own cannot switch the audit off", () => {
    const audit = dataPolicy('audit', { subjects: { namespaces: ['team-a'] }, capture: { mode: 'Full' }, destinations: [otlp] }, { namespace: 'tollgate-system', creationTimestamp: '2026-12-02T00:00:00Z' });
    // Older, and more specific (the tenant's own ServiceAccount): by specificity alone it would win.
    const off = dataPolicy('no-capture', { subjects: { serviceAccounts: [{ namespace: 'team-a', name: 'app' }] }, capture: { mode: 'None' } }, { namespace: 'team-a', creationTimestamp: '2026-12-01T00:00:00Z' });
    const { snapshot, statuses } = compile(input({ dataPolicies: [off, audit], platformNamespaces: ['tollgate-system'] }));
    const policies = snapshot.dataPolicies ?? [];
    const app: Caller = { kind: 'serviceaccount', namespace: 'team-a', name: 'app', id: 'sa:team-a/app' };
    expect(selectPolicy(policies, app, 'default/chat')?.id).toBe('tollgate-system/audit');
    const c = conditions(statuses, 'no-capture', 'team-a');
    expect(c.Conflicted).toMatchObject({ status: 'True', reason: 'PlatformPolicyFirst' });
    expect(c.Conflicted?.message).toContain('DataPolicy tollgate-system/audit of a platform namespace governs the callers of namespace team-a first');
    expect(conditions(statuses, 'audit', 'tollgate-system').Conflicted?.status).toBe('False');
    // A caller the platform policy does not select (another namespace's) is still governed by the tenant's.
    const outsider: Caller = { kind: 'serviceaccount', namespace: 'team-b', name: 'x', id: 'sa:team-b/x' };
    const tenantRoute = dataPolicy('route-capture', { subjects: { routes: [{ name: 'chat' }] }, capture: { mode: 'Metadata' }, destinations: [otlp] }, { namespace: 'default' });
    const both = compile(input({ dataPolicies: [tenantRoute, audit], platformNamespaces: ['tollgate-system'] })).snapshot.dataPolicies ?? [];
    expect(selectPolicy(both, outsider, 'default/chat')?.id).toBe('default/route-capture');
  });

  it('limits a tenant policy to its own namespace', () => {
    const p = dataPolicy('grab', { subjects: { namespaces: ['team-a', 'team-b'] }, capture: { mode: 'Full' }, destinations: [otlp] }, { namespace: 'team-a' });
    const { snapshot, statuses } = compile(input({ dataPolicies: [p], platformNamespaces: ['tollgate-system'] }));
    expect(snapshot.dataPolicies?.[0]?.subjects.namespaces).toEqual(['team-a']);
    expect(conditions(statuses, 'grab', 'team-a').ResolvedRefs).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
  });
});

describe('DataPolicy schema (the same rules the CRD carries as CEL)', () => {
  const parse = (spec: Record<string, unknown>) => DataPolicySchema.safeParse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'DataPolicy', metadata: { name: 'p' }, spec });
  const messages = (spec: Record<string, unknown>): string => {
    const r = parse(spec);
    return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
  };
  it('defaults to capturing nothing', () => {
    const r = parse({ subjects: { namespaces: ['a'] } });
    expect(r.success && r.data.spec.capture.mode).toBe('None');
  });
  it('refuses an unknown detector, a retention shorter than the batch interval, two kinds in one destination', () => {
    expect(messages({ subjects: { namespaces: ['a'] }, redaction: { detectors: ['Passport'] } })).toContain('redaction.detectors.0');
    expect(messages({ subjects: { namespaces: ['a'] }, capture: { mode: 'Full' }, retention: { content: '30s' }, destinations: [s3] })).toContain(
      'retention.content must be at least every s3 destination batchInterval',
    );
    expect(messages({ subjects: { namespaces: ['a'] }, capture: { mode: 'Full' }, destinations: [{ ...s3, ...otlp, name: 'x' }] })).toContain('exactly one of');
    expect(messages({ subjects: { namespaces: ['a'] }, capture: { mode: 'Full' } })).toContain('needs at least one destination');
    expect(messages({ subjects: { namespaces: ['a'] }, retention: { content: '2h', metadata: '1h' } })).toContain('retention.metadata must be at least');
  });
});
