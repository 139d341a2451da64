import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockEmulator } from '../emulators/bedrock.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { providerManifest, routeManifest, secretManifest } from './provider-manifests.js';

// Converse refuses a history with toolUse/toolResult blocks sent without a toolConfig (the emulator
// does as Bedrock). A client that withholds its tools on the turn after a tool call (tool_choice
// none, or no tools at all) must still be served.

const AWS = { accessKeyId: 'AKIDHISTORY', secretAccessKey: 'history/secret' };
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

describe('Bedrock: a tool history without tools on offer', () => {
  let bedrock: Emulator;
  let gateway: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    bedrock = await startBedrockEmulator(AWS, 'us-east-1');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest('bedrock', 'bedrock', bedrock.url, '{ aws: { secretName: aws } }', '  bedrock: { region: us-east-1 }\n') +
        secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey }),
      'routes.yaml': routeManifest('claude', [['bedrock', MODEL]]),
    });
    client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await bedrock?.close();
  });

  const history: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'user', content: 'Weather in Rome?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
    { role: 'tool', tool_call_id: 'tooluse_1', content: 'Sunny' },
  ];
  const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  it('tool_choice none: answered, the client tools sent as toolConfig', async () => {
    bedrock.script({ kind: 'text', text: 'It is sunny.' });
    const res = await client.chat.completions.create({ model: 'claude', messages: history, tools, tool_choice: 'none' });
    expect(res.choices[0]?.message.content).toBe('It is sunny.');
    expect(bedrock.requests[bedrock.requests.length - 1]?.body.toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'get_weather' } }] });
  });

  it('no tools on the follow-up: answered, with a stub for the tool the history calls', async () => {
    bedrock.script({ kind: 'text', text: 'Still sunny.' });
    const res = await client.chat.completions.create({ model: 'claude', messages: history });
    expect(res.choices[0]?.message.content).toBe('Still sunny.');
    expect(bedrock.requests[bedrock.requests.length - 1]?.body.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: {} } } } }] });
    expect(bedrock.problems).toEqual([]);
  });
});
