import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  const models = `  models:
    - { name: small, pricing: { input: 0.1, output: 0.4 }, capabilities: { tools: false, vision: false } }
    - { name: large, pricing: { input: 2.5, output: 10 } }
`;
  gateway = await startTestGateway({
    'provider.yaml': openAiProvider('up', upstream.baseUrl, models),
    'routes.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: cheapest }
spec:
  model: cheapest
  strategy: least-cost
  targets: [{ providerRef: { name: up }, model: large }, { providerRef: { name: up }, model: small }]
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: small-only }
spec:
  model: small-only
  targets: [{ providerRef: { name: up }, model: small }]
`,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };

describe('least-cost with model capabilities', () => {
  it('picks the cheapest target that can serve the request', async () => {
    const plain = await client.chat.completions.create({ model: 'cheapest', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(plain.response.headers.get('x-tollgate-model')).toBe('small');
    const withTools = await client.chat.completions.create({ model: 'cheapest', tools: [tool], messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(withTools.response.headers.get('x-tollgate-model')).toBe('large');
    const withImage = await client.chat.completions
      .create({ model: 'cheapest', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] })
      .withResponse();
    expect(withImage.response.headers.get('x-tollgate-model')).toBe('large');
  });

  it('refuses with 400 when no target has the capability, without calling upstream', async () => {
    const before = upstream.requests.length;
    const err = (await client.chat.completions.create({ model: 'small-only', tools: [tool], messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(400);
    expect(err.code).toBe('unsupported_capability');
    expect(err.message).toMatch(/supports tools/);
    expect(upstream.requests.length).toBe(before);
  });
});
