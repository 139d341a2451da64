import { describe, expect, it } from 'vitest';
import { providerLoadProblem } from './load-checks.js';
import { secret } from './secret-value.js';
import { type ProviderConfig, ProviderConfigSchema, SUPPORTED_PROVIDER_TYPES } from './snapshot.js';

const base = { id: 'ns/p', endpoints: ['http://upstream/v1'], headers: {}, connectTimeoutMs: 1000 };
const mock = { latencyMs: 0, chunkIntervalMs: 0, completionTokens: 1, failureRate: 0 };

/** The contract's provider checks, which the operator runs on each Provider and the data plane on each snapshot. */
describe('provider checks of the snapshot contract', () => {
  it('refuses a type without the settings it cannot work without, naming the settings block', () => {
    expect(providerLoadProblem({ ...base, type: 'bedrock' })).toEqual({ path: 'bedrock', message: 'a bedrock provider needs its bedrock settings' });
    expect(providerLoadProblem({ ...base, type: 'vertex' })?.path).toBe('vertex');
    expect(providerLoadProblem({ ...base, type: 'mock' })?.path).toBe('mock');
    expect(providerLoadProblem({ ...base, type: 'mock', mock })).toBeUndefined();
    expect(providerLoadProblem({ ...base, type: 'bedrock', bedrock: { region: 'eu-west-1' } })).toBeUndefined();
    expect(providerLoadProblem({ ...base, type: 'openai' })).toBeUndefined();
    expect(providerLoadProblem({ ...base, type: 'nope' })).toEqual({ path: 'type', message: 'unsupported type nope' });
  });

  it('lists every type once, in the order the Provider CRD shows them', () => {
    expect(SUPPORTED_PROVIDER_TYPES).toEqual(['openai', 'azure-openai', 'anthropic', 'gemini', 'vertex', 'bedrock', 'openai-compatible', 'vllm', 'mock']);
  });

  it('refuses a service-account key that cannot mint tokens at the field, on either side of the channel', () => {
    const withKey = (key: string): ProviderConfig => ({ ...base, type: 'vertex', vertex: { project: 'p', location: 'l', serviceAccountKey: secret(key) } });
    const parsed = ProviderConfigSchema.safeParse(withKey('not json'));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]).toMatchObject({ path: ['vertex', 'serviceAccountKey'], message: 'the service-account key is not JSON' });
    expect(ProviderConfigSchema.safeParse(withKey('{"client_email":"a@b"}')).error?.issues[0]?.message).toBe('the service-account key has no client_email or private_key');
    expect(ProviderConfigSchema.safeParse(withKey('{"client_email":"a@b","private_key":"k"}')).success).toBe(true);
  });
});
