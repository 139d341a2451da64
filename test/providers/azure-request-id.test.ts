import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureOpenAiEmulator } from '../emulators/azure-openai.js';
import type { Emulator } from '../emulators/emulator-server.js';
import { accessLogLine } from '../support/access-log-line.js';
import { azureEmulatorProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { routeManifest } from './provider-manifests.js';

// Azure OpenAI names a request in apim-request-id (the correlation id of its diagnostic logs, which
// its support asks for) and in x-ms-request-id; some deployments send only the latter. The gateway
// relays the first it finds, apim-request-id first, as x-upstream-request-id and in the access log.

let emulator: Emulator;
let gateway: TestGateway;
let client: OpenAI;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  emulator = await startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  gateway = await startTestGateway({ 'providers.yaml': azureEmulatorProvider(emulator.url), 'routes.yaml': routeManifest('az', [['azure', 'gpt-4o']]) }, { logger: pino({ level: 'info' }, sink) });
  client = new OpenAI({ apiKey: 'client-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

async function relayed(stream: boolean): Promise<{ header: string | null; logged: unknown }> {
  const messages = [{ role: 'user' as const, content: 'Hi' }];
  const response = stream
    ? await client.chat.completions.create({ model: 'az', messages, stream: true }).withResponse().then(async ({ data, response }) => {
        for await (const _ of data);
        return response;
      })
    : (await client.chat.completions.create({ model: 'az', messages }).withResponse()).response;
  const line = await accessLogLine(logLines, response.headers.get('x-request-id') ?? '');
  return { header: response.headers.get('x-upstream-request-id'), logged: line.upstreamRequestId };
}

describe('Azure OpenAI upstream request id', () => {
  it('is apim-request-id when the answer names both, whole and streamed', async () => {
    emulator.script({ kind: 'text' });
    for (const stream of [false, true]) expect(await relayed(stream)).toEqual({ header: 'emulated', logged: 'emulated' });
  });

  it('is x-ms-request-id when that is the only one the answer sends, whole and streamed', async () => {
    // Before, only apim-request-id was read: such answers were relayed and logged with no upstream id.
    emulator.script({ kind: 'text', msRequestIdOnly: true });
    for (const stream of [false, true]) expect(await relayed(stream)).toEqual({ header: 'ms-emulated', logged: 'ms-emulated' });
    emulator.script();
  });

  it('sent only valid requests', () => {
    expect(emulator.problems).toEqual([]);
  });
});
