import { Writable } from 'node:stream';
import OpenAI, { toFile } from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { accessLogLine } from '../support/access-log-line.js';

// What a pass-through request's body says is the route's to decide: the model of an upload's form
// is the target's (as a JSON body's), and a JSON body that is not an object is refused at once.

const CALLER_KEY = 'tg-caller-key';

const route = (name: string, model: string, endpoints: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: ${model} }]
  timeouts: { total: 8s }
  passThrough: { endpoints: [${endpoints}] }
`;

describe('pass-through request bodies', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  let client: OpenAI;
  const last = () => upstream.requests[upstream.requests.length - 1];
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    const providers =
      providerManifest('up', 'openai', `${upstream.url}/v1`, '{ secretRef: { name: up-key, key: apiKey } }', '  models:\n    - { name: whisper-1, pricing: { perAudioSecond: 0.0001 } }\n    - { name: dall-e-2, pricing: { perImage: 0.02 } }\n    - { name: omni-moderation-latest, pricing: { perRequest: 0.0001 } }\n    - { name: gpt-4o-mini-tts, pricing: { input: 0.6, output: 12, perMillionCharacters: 0 } }\n') +
      secretManifest('up-key', { apiKey: 'sk-upstream' }) +
      apiKeySecretManifest('caller', CALLER_KEY);
    const routes = `${route('speak', 'gpt-4o-mini-tts', 'audio')}---\n${route('transcribe-cheap', 'whisper-1', 'audio')}---\n${route('edit-cheap', 'dall-e-2', 'images')}---\n${route('mod', 'omni-moderation-latest', 'moderations')}`;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    gateway = await startTestGateway({ 'providers.yaml': providers, 'routes.yaml': routes }, { auth: new Authenticator({}), logger: pino({ level: 'info' }, sink) });
    client = new OpenAI({ apiKey: CALLER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it.each(['gpt-4o-transcribe', 'transcribe-cheap'])("a transcription whose form names %s runs the route's target (whisper-1), recorded and priced as it", async (model) => {
    // Before, the form's model went upstream as written: gpt-4o-transcribe ran, priced at whisper-1's $0 for tokens.
    const before = gateway.usage.records.length;
    const audio = Buffer.alloc(300_000, 3);
    // Two routes enable audio: the header names this one (the form's model cannot: it streams after routing).
    const t = await client.audio.transcriptions.create({ model, file: await toFile(audio, 'a.wav', { type: 'audio/wav' }), language: 'en' }, { headers: { 'x-tollgate-model': 'transcribe-cheap' } });
    expect(t.text).toBe('heard 300000 bytes with whisper-1');
    const form = last()?.form;
    expect(form?.get('model')).toBe('whisper-1');
    expect(form?.get('language')).toBe('en');
    expect(Buffer.from(await (form?.get('file') as File).arrayBuffer()).equals(audio)).toBe(true);
    await expect.poll(() => gateway.usage.records.length).toBe(before + 1);
    expect(gateway.usage.records.at(-1)).toMatchObject({ routeId: 'default/transcribe-cheap', upstreamModel: 'whisper-1' });
    expect(gateway.usage.records.at(-1)?.costUsd).toBeCloseTo(12 * 0.0001, 12);
  });

  it("an image edit's form model (file part first) is the target's", async () => {
    const edit = await client.images.edit({ image: await toFile(Buffer.alloc(10_000, 9), 'a.png', { type: 'image/png' }), prompt: 'a hat', model: 'gpt-image-1' });
    expect(Buffer.from(edit.data?.[0]?.b64_json ?? '', 'base64').toString()).toBe('a hat by dall-e-2');
    expect(gateway.usage.records.at(-1)?.costUsd).toBeCloseTo(0.02, 12);
  });

  it('a malformed form is a 400, a multipart body without a boundary a 400 before anything goes upstream', async () => {
    const post = (type: string, body: string): Promise<Response> =>
      fetch(`${gateway.url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${CALLER_KEY}`, 'x-tollgate-model': 'transcribe-cheap' }, body, signal: AbortSignal.timeout(10_000) });
    const before = upstream.requests.length;
    const noBoundary = await post('multipart/form-data', 'x');
    expect(noBoundary.status).toBe(400);
    expect(upstream.requests.length).toBe(before);
    const cut = await post('multipart/form-data; boundary=b', '--b\r\ncontent-disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--b\r\ncontent-disposition: form-data; name="file"; filename="a"\r\n\r\nabc');
    expect(cut.status).toBe(400);
    expect(((await cut.json()) as { error: { message: string } }).error.message).toMatch(/multipart form is malformed: it ends before its closing boundary/);
  });

  it("relays the upstream's own request id as x-upstream-request-id and logs it (its x-request-id stays the gateway's)", async () => {
    const { data, response } = await client.moderations.create({ model: 'mod', input: 'hello' }).withResponse();
    expect(data.results).toHaveLength(1);
    expect(response.headers.get('x-upstream-request-id')).toBe('req_upstream');
    const id = response.headers.get('x-request-id') ?? '';
    expect(id).not.toBe('req_upstream');
    expect(await accessLogLine(logLines, id)).toMatchObject({ status: 200, upstreamRequestId: 'req_upstream' });
  });

  it("speech streamed as events (stream_format: sse) is charged the tokens its speech.audio.done reports", async () => {
    // Before, the events were not read: token-priced speech was charged nothing (or per character only).
    const before = gateway.usage.records.length;
    const res = await fetch(`${gateway.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER_KEY}` },
      body: JSON.stringify({ model: 'speak', voice: 'alloy', input: 'hello there', stream_format: 'sse' }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('speech.audio.done');
    await expect.poll(() => gateway.usage.records.length).toBe(before + 1);
    expect(gateway.usage.records.at(-1)).toMatchObject({ routeId: 'default/speak', inputTokens: 7, outputTokens: 300, estimated: false });
    expect(gateway.usage.records.at(-1)?.costUsd).toBeCloseTo((7 * 0.6 + 300 * 12) / 1e6, 12);
  });

  it.each(['[{"input":"x"}]', 'null', '"text"', '42'])('a JSON body %s (valid, not an object) is a 400 at once, and nothing goes upstream', async (body) => {
    // Before, such a body was re-piped from the spent request: the client waited for the route's timeout, then got a 504.
    const before = upstream.requests.length;
    const started = Date.now();
    const res = await fetch(`${gateway.url}/v1/moderations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLER_KEY}`, 'x-tollgate-model': 'mod' },
      body,
      signal: AbortSignal.timeout(15_000),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/a JSON request body must be an object/) });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(upstream.requests.length).toBe(before);
  });
});
