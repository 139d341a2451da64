import { describe, expect, it } from 'vitest';
import { dataPolicy, guardrail, provider, route } from '../../test/support/objects.js';
import { compile } from './compile.js';
import type { CompileInput, ObjectStatus, SecretInput } from './types.js';

// The platform's allowlist at compile: what can never connect is refused with a status that says
// whom to ask; the connection checks again (dataplane/config/egress-guard.ts).

const allowlist = { hosts: ['*.openai.azure.com', 'api.openai.com'], cidrs: ['10.244.0.0/16'] };
const secrets: SecretInput[] = [
  { namespace: 'default', name: 'key', data: { apiKey: 'sk-1' } },
  { namespace: 'default', name: 's3', data: { accessKeyId: 'AKID', secretAccessKey: 'shh' } },
];
const credentials = { secretRef: { name: 'key', key: 'apiKey' } };
const hosted = provider('hosted', { type: 'openai', credentials, models: [{ name: 'gpt-4o' }] });
const azure = provider('azure', { type: 'openai-compatible', url: 'https://team.openai.azure.com/v1', credentials, models: [{ name: 'gpt-4o' }] });
const internal = provider('internal', { type: 'openai-compatible', url: 'http://10.96.0.1/v1', credentials, models: [{ name: 'gpt-4o' }] });
const named = provider('named', { type: 'openai-compatible', url: 'http://llm.other.example/v1', credentials, models: [{ name: 'gpt-4o' }] });
const anthropic = provider('anthropic', { type: 'anthropic', credentials, models: [{ name: 'claude' }] });
const pool = provider('pool', { type: 'vllm', serviceRef: { name: 'vllm', port: 8000 } });
const mock = provider('mock', { type: 'mock' });
const routeTo = (name: string, model = 'gpt-4o') => route(name, { model: name, targets: [{ providerRef: { name }, model }] });

function input(partial: Partial<CompileInput>): CompileInput {
  const providers = [hosted, azure, internal, named, anthropic, pool, mock];
  return {
    providers,
    routes: providers.map((p) => routeTo(p.metadata.name, p.metadata.name === 'anthropic' ? 'claude' : 'gpt-4o')),
    budgets: [],
    secrets,
    endpoints: [{ namespace: 'default', service: 'vllm', port: 8000, addresses: [{ ip: '10.96.3.3', port: 8000, ready: true }] }],
    egressAllowlist: allowlist,
    ...partial,
  };
}

function accepted(statuses: ObjectStatus[], kind: string, name: string): { status: string; reason: string; message: string } | undefined {
  return statuses.find((s) => s.kind === kind && s.name === name)?.conditions.find((c) => c.type === 'Accepted');
}

function resolved(statuses: ObjectStatus[], kind: string, name: string): { status: string; reason: string; message: string } | undefined {
  return statuses.find((s) => s.kind === kind && s.name === name)?.conditions.find((c) => c.type === 'ResolvedRefs');
}

describe('compile with the platform egress allowlist', () => {
  it('refuses Providers whose endpoint can never be reached, and only those, naming the field', () => {
    const { snapshot, statuses } = compile(input({}));
    expect(snapshot.providers.map((p) => p.id).sort()).toEqual(['default/anthropic', 'default/azure', 'default/hosted', 'default/mock', 'default/named']);
    expect(accepted(statuses, 'Provider', 'internal')).toMatchObject({
      status: 'False',
      reason: 'EgressNotAllowed',
      message: "spec.url: 10.96.0.1 is not in the platform's egress allowlist (hosts: *.openai.azure.com, api.openai.com; networks: 10.244.0.0/16); ask the platform team to add it",
    });
    expect(accepted(statuses, 'Provider', 'pool')).toMatchObject({ reason: 'EgressNotAllowed', message: expect.stringContaining('spec.serviceRef endpoint: 10.96.3.3 is not in') });
    // A name no host entry lists may still resolve into 10.244.0.0/16: the connection decides.
    expect(accepted(statuses, 'Provider', 'named')).toMatchObject({ status: 'True' });
    // Its route stays (failover from it works as from any target that is not ready) and says why.
    expect(resolved(statuses, 'ModelRoute', 'internal')).toMatchObject({ reason: 'ProviderNotReady', message: expect.stringContaining("Provider default/internal is not usable: spec.url: 10.96.0.1 is not in the platform's egress allowlist") });

    // With host names only, an unlisted name can never connect either; a hosted type's default
    // endpoint is checked like a written url.
    const namesOnly = compile(input({ egressAllowlist: { hosts: allowlist.hosts, cidrs: [] } }));
    expect(namesOnly.snapshot.providers.map((p) => p.id).sort()).toEqual(['default/azure', 'default/hosted', 'default/mock']);
    expect(accepted(namesOnly.statuses, 'Provider', 'named')).toMatchObject({ reason: 'EgressNotAllowed', message: expect.stringContaining('spec.url: llm.other.example is not in') });
    expect(accepted(namesOnly.statuses, 'Provider', 'anthropic')).toMatchObject({ reason: 'EgressNotAllowed', message: expect.stringContaining('the anthropic endpoint: api.anthropic.com is not in') });
  });

  it('changes nothing without an allowlist', () => {
    const { snapshot, statuses } = compile(input({ egressAllowlist: undefined }));
    expect(snapshot.providers.map((p) => p.id).sort()).toEqual(['default/anthropic', 'default/azure', 'default/hosted', 'default/internal', 'default/mock', 'default/named', 'default/pool']);
    expect(statuses.flatMap((s) => s.conditions).filter((c) => c.reason === 'EgressNotAllowed')).toEqual([]);
  });

  it('gives a DataPolicy destination outside it nothing, and keeps a guardrail webhook rule in force with ResolvedRefs=False', () => {
    const policy = dataPolicy('audit', {
      subjects: { namespaces: ['default'] },
      capture: { mode: 'Metadata' },
      destinations: [
        { name: 'bucket', s3: { endpoint: 'http://10.96.5.5:8333', bucket: 'captures', credentialsSecretRef: { name: 's3' } } },
        { name: 'collector', otlpLogs: { endpoint: 'http://10.244.7.7:4318' } },
      ],
    });
    const hook = guardrail('hook', {
      subjects: { routes: [{ name: 'hosted' }] },
      rules: [{ name: 'pii', phase: 'Request', action: 'Block', detector: { webhook: { url: 'http://10.96.9.9/check', timeout: '1s' } } }],
    });
    const { snapshot, statuses } = compile(input({ dataPolicies: [policy], guardrails: [hook] }));
    expect(snapshot.dataPolicies?.[0]?.destinations.map((d) => d.name)).toEqual(['collector']);
    expect(resolved(statuses, 'DataPolicy', 'audit')).toMatchObject({
      status: 'False',
      reason: 'EgressNotAllowed',
      message: expect.stringContaining('spec.destinations[0].s3.endpoint: 10.96.5.5 is not in the platform'),
    });
    expect(resolved(statuses, 'DataPolicy', 'audit')?.message).toContain('destination bucket receives nothing');
    expect(snapshot.guardrails?.[0]?.rules[0]?.detector).toMatchObject({ kind: 'webhook', url: 'http://10.96.9.9/check' });
    expect(accepted(statuses, 'GuardrailPolicy', 'hook')?.status).toBe('True');
    expect(resolved(statuses, 'GuardrailPolicy', 'hook')).toMatchObject({ status: 'False', reason: 'EgressNotAllowed', message: expect.stringContaining('rule pii: spec.rules[0].detector.webhook.url: 10.96.9.9 is not in') });
  });
});
