import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import { embeddingVector, type Emulator } from '../emulators/emulator-server.js';
import { startGeminiEmulator, startVertexEmulator, type VertexEmulator } from '../emulators/gemini.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { captureUsage, providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// /v1/embeddings through providers whose embedding APIs are not OpenAI's: Gemini batchEmbedContents,
// Vertex AI predict, Bedrock InvokeModel with Titan and Cohere bodies. The official client asks for
// base64 vectors by default and decodes them, so both encodings are exercised.

const AWS = { accessKeyId: 'AKIDEMBED', secretAccessKey: 'embed/secret' };

describe('embeddings on Gemini, Vertex AI and Bedrock', () => {
  let gemini: Emulator;
  let vertex: VertexEmulator;
  let bedrock: Emulator;
  let claude: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;
  let records: UsageRecord[] = [];

  beforeAll(async () => {
    [gemini, vertex, bedrock, claude] = await Promise.all([
      startGeminiEmulator('gemini-embed'),
      startVertexEmulator('embed-project', 'europe-west4'),
      startBedrockEmulator(AWS, 'us-east-1'),
      startAnthropicEmulator('sk-ant-embed'),
    ]);
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('gemini', 'gemini', gemini.url, '{ secretRef: { name: gemini, key: apiKey } }') +
        secretManifest('gemini', { apiKey: 'gemini-embed' }) +
        providerManifest('vertex', 'vertex', vertex.url, '{ serviceAccountKeyRef: { name: gcp, key: key.json } }', '  vertex: { project: embed-project, location: europe-west4 }\n') +
        secretManifest('gcp', { 'key.json': vertex.serviceAccountKey }) +
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: us-east-1 }\n') +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }) +
        providerManifest('claude', 'anthropic', claude.url, '{ secretRef: { name: claude, key: apiKey } }') +
        secretManifest('claude', { apiKey: 'sk-ant-embed' }),
      'routes.yaml':
        routeManifest('emb-gemini', [['gemini', 'gemini-embedding-001']]) +
        routeManifest('emb-vertex', [['vertex', 'text-embedding-005']]) +
        routeManifest('emb-titan', [['bedrock', 'amazon.titan-embed-text-v2:0']]) +
        routeManifest('emb-cohere', [['bedrock', 'cohere.embed-english-v3']]) +
        routeManifest('emb-titan-then-gemini', [['bedrock', 'amazon.titan-embed-text-v2:0'], ['gemini', 'gemini-embedding-001']]) +
        routeManifest('emb-bedrock-chat-model', [['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0']]) +
        routeManifest('emb-claude', [['claude', 'claude-sonnet-4-5']]),
    });
    records = captureUsage(gateway);
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([gemini?.close(), vertex?.close(), bedrock?.close(), claude?.close()]);
  });

  const last = (): UsageRecord | undefined => records[records.length - 1];

  it('Gemini: batchEmbedContents, vectors in input order, dimensions; usage estimated (the API counts no tokens)', async () => {
    gemini.script({ kind: 'text' });
    const res = await client.embeddings.create({ model: 'emb-gemini', input: ['hello', 'world'], dimensions: 4 });
    expect(res.object).toBe('list');
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]?.embedding).toEqual(embeddingVector('hello', 4));
    expect(res.data[1]?.embedding).toEqual(embeddingVector('world', 4));
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    const sent = gemini.requests[gemini.requests.length - 1];
    expect(sent?.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(sent?.body).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] }, outputDimensionality: 4 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'world' }] }, outputDimensionality: 4 },
      ],
    });
    expect(last()).toMatchObject({ op: 'embeddings', providerId: 'default/gemini', outputTokens: 0, estimated: true });
  });

  it('float encoding on request, a single string input', async () => {
    const res = await client.embeddings.create({ model: 'emb-gemini', input: 'solo', encoding_format: 'float' });
    expect(res.data).toEqual([{ object: 'embedding', index: 0, embedding: embeddingVector('solo') }]);
  });

  it('Vertex AI: predict with instances, token counts from the predictions metered', async () => {
    const res = await client.embeddings.create({ model: 'emb-vertex', input: ['abcdefgh', 'ijkl'], dimensions: 3 });
    expect(res.data.map((d) => d.embedding)).toEqual([embeddingVector('abcdefgh', 3), embeddingVector('ijkl', 3)]);
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    const sent = vertex.requests[vertex.requests.length - 1];
    expect(sent?.url).toBe('/v1/projects/embed-project/locations/europe-west4/publishers/google/models/text-embedding-005:predict');
    expect(sent?.body).toEqual({ instances: [{ content: 'abcdefgh' }, { content: 'ijkl' }], parameters: { outputDimensionality: 3 } });
    expect(last()).toMatchObject({ providerId: 'default/vertex', inputTokens: 3, outputTokens: 0, estimated: false });
  });

  it('Bedrock Titan: InvokeModel with inputText, signed; more than one input is a 400', async () => {
    const res = await client.embeddings.create({ model: 'emb-titan', input: 'twelve chars', dimensions: 256 });
    expect(res.data[0]?.embedding).toEqual(embeddingVector('twelve chars', 256));
    expect(res.usage.prompt_tokens).toBe(3);
    const sent = bedrock.requests[bedrock.requests.length - 1];
    expect(sent?.url).toBe('/model/amazon.titan-embed-text-v2%3A0/invoke');
    expect(sent?.body).toEqual({ inputText: 'twelve chars', dimensions: 256 });
    expect(last()).toMatchObject({ providerId: 'default/bedrock', inputTokens: 3, estimated: false });

    const err = await client.embeddings.create({ model: 'emb-titan', input: ['a', 'b'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toContain('one input per request');
  });

  it('Bedrock Cohere: texts with input_type (client extra field or search_document), tokens from the response header', async () => {
    const res = await client.embeddings.create({ model: 'emb-cohere', input: ['first text', 'second'] });
    expect(res.data.map((d) => d.embedding)).toEqual([embeddingVector('first text'), embeddingVector('second')]);
    expect(res.usage.prompt_tokens).toBe(5);
    expect(bedrock.requests[bedrock.requests.length - 1]?.body).toEqual({ texts: ['first text', 'second'], input_type: 'search_document' });
    await client.embeddings.create({ model: 'emb-cohere', input: ['query'], input_type: 'search_query' } as OpenAI.EmbeddingCreateParams);
    expect(bedrock.requests[bedrock.requests.length - 1]?.body).toMatchObject({ input_type: 'search_query' });
  });

  it('a throttled Bedrock embedding fails over to Gemini', async () => {
    bedrock.script({ kind: 'rate-limit' });
    gemini.script({ kind: 'text' });
    const { data, response } = await client.embeddings.create({ model: 'emb-titan-then-gemini', input: 'fallback' }).withResponse();
    expect(data.data[0]?.embedding).toEqual(embeddingVector('fallback'));
    expect(response.headers.get('x-tollgate-provider')).toBe('default/gemini');
    bedrock.script({ kind: 'text' });
  });

  it('models and providers that do not embed answer a clear 400; token-id input too', async () => {
    const chatModel = await client.embeddings.create({ model: 'emb-bedrock-chat-model', input: 'x' }).catch((e: unknown) => e);
    expect(chatModel).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chatModel as Error).message).toContain('Titan');
    const anthropic = await client.embeddings.create({ model: 'emb-claude', input: 'x' }).catch((e: unknown) => e);
    expect(anthropic).toBeInstanceOf(OpenAI.BadRequestError);
    const tokens = await client.embeddings.create({ model: 'emb-gemini', input: [1, 2, 3] }).catch((e: unknown) => e);
    expect(tokens).toBeInstanceOf(OpenAI.BadRequestError);
    expect((tokens as Error).message).toContain('text only');
  });

  it('every emulator received only valid requests', () => {
    expect([...gemini.problems, ...vertex.problems, ...bedrock.problems, ...claude.problems]).toEqual([]);
  });
});
