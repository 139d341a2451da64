import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureSampler } from '../../dataplane/policy/capture/capture-sampler.js';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { GENAI_EVENT_NAME } from '../../dataplane/policy/capture/destinations/otlp-logs.js';
import { STREAM_TEXT_BUDGET } from '../../dataplane/policy/capture/stream-assembler.js';
import { startLeanTracing } from '../../dataplane/telemetry/lean-tracing.js';
import type { Tracing } from '../../dataplane/telemetry/tracing.js';
import { parseTracingConfig } from '../../dataplane/telemetry/tracing-config.js';
import type { CaptureRecord as Record_ } from '../../dataplane/policy/capture/capture-record.js';
import { type Collector, startCollector } from '../otel/collector.js';
import { jsonLines, upRoute } from '../support/capture-files.js';
import { type ResponsesEmulator, startResponsesEmulator } from '../emulators/openai-responses.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Issue 16: the capture stage on the request path of `tollgate dev`, driven by the official
// clients (OpenAI chat, Anthropic Messages, the Responses API): one record per request in the
// policy's local directory, redacted in the data plane, streams assembled; the opt-out header only
// where the policy allows it; the access log and traces name the policy and mode, never content;
// /debug/route shows the effective policy; an otlpLogs destination delivers GenAI events to the
// real OpenTelemetry Collector, and a namespace in mode None sends it nothing.

/** A record with its content as these tests read it (the module types the content as unknown JSON). */
type CaptureRecord = Omit<Record_, 'content'> & {
  content?: { request?: { messages?: { role: string; content: unknown }[] }; response?: { choices?: { message: { content: string }; finish_reason: string | null }[] }; redactions?: Record<string, number> };
};

const CARD = '4111 1111 1111 1111';
const MAIL = 'ann@example.com';

let up: OpenAiUpstream;
let native: ResponsesEmulator;
let gateway: TestGateway;
let collector: Collector;
let tracing: Tracing;
let openai: OpenAI;
let anthropic: Anthropic;
let dir: string;
let logs = '';

/** Routes open to anonymous callers (this gateway verifies API keys, for the namespace policy below). */
const route = (name: string, model: string): string => `${upRoute(name, model)}  access: { anonymous: true }\n`;

const policy = (name: string, routeName: string, capture: string): string => `---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: ${name} }
spec:
  subjects: { routes: [{ name: ${routeName} }] }
  capture: ${capture}
  destinations: [{ name: disk, localDirectory: { path: "${join(dir, name)}" } }]
`;

/** A policy whose records go to the collector as OTLP logs. */
const otlpPolicy = (name: string, subjects: string, capture: string, namespace = 'default'): string => `---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  subjects: ${subjects}
  capture: ${capture}
  destinations: [{ name: collector, otlpLogs: { endpoint: "${collector.endpoint}" } }]
`;

const manifests = (): string =>
  [
    openAiProvider('up', up.baseUrl, '  models: [{ name: up-model, pricing: { input: 1, output: 2 } }]\n'),
    route('audited', 'audited-chat'),
    route('lax', 'lax-chat'),
    route('meta', 'meta-chat'),
    route('plain', 'plain-chat'),
    route('otlp', 'otlp-chat'),
    route('half', 'half-chat'),
    route('long', 'long-chat'),
    otlpPolicy('otlp', '{ routes: [{ name: otlp }] }', '{ mode: Redacted }'),
    // Callers of namespace quiet (API key quiet-key). Not namespace default: an anonymous caller
    // counts as its route's namespace, and default's routes here serve anonymous callers.
    otlpPolicy('quiet', '{ namespaces: [quiet] }', '{ mode: None }', 'quiet'),
    `---
apiVersion: v1
kind: Secret
metadata: { name: quiet-key, namespace: quiet, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-quiet-key }
`,
    policy('audit', 'audited', '{ mode: Redacted }'),
    policy('lax', 'lax', '{ mode: Full, allowOptOut: true }'),
    policy('meta', 'meta', '{ mode: Metadata }'),
    policy('half', 'half', '{ mode: Metadata, sampleRate: 0.5 }'),
    policy('long', 'long', '{ mode: Full, maxRecordBytes: 1024 }'),
    `---\n${providerManifest('oai', 'openai', `${native.url}/v1`, '{ secretRef: { name: oai-key, key: apiKey } }', '', 'gpt-4.1')}---\n${secretManifest('oai-key', { apiKey: 'sk-openai' })}`,
    `---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: native }
spec:
  model: native-chat
  targets: [{ providerRef: { name: oai }, model: gpt-4.1 }]
  access: { anonymous: true }
`,
    policy('native', 'native', '{ mode: Redacted }'),
    // A team's route opened to anyone, and the platform's audit of that team by namespace.
    `---
apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: m, namespace: team-b }
spec: { type: mock }
---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: open, namespace: team-b }
spec:
  model: team-b-open
  access: { anonymous: true }
  targets: [{ providerRef: { name: m }, model: x }]
---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit-team-b, namespace: tollgate-system }
spec:
  subjects: { namespaces: [team-b] }
  capture: { mode: Full }
  destinations: [{ name: disk, localDirectory: { path: "${join(dir, 'audit-team-b')}" } }]
`,
    `---
apiVersion: tollgate.dev/v1alpha1
kind: GuardrailPolicy
metadata: { name: mask-mail }
spec:
  subjects: { routes: [{ name: lax }] }
  rules: [{ name: mail, phase: Request, action: Mask, detector: { builtin: [Email] } }]
`,
  ].join('');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-capture-'));
  collector = await startCollector();
  const config = parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint }, {}, { serviceName: 'tollgate-test', serviceVersion: '0.1.0' });
  if (config === undefined) throw new Error('tracing config expected');
  tracing = startLeanTracing(config); // as the data plane runs it
  up = await startOpenAiUpstream();
  native = await startResponsesEmulator('openai', 'sk-openai');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString();
      done();
    },
  });
  gateway = await startTestGateway(
    { 'all.yaml': manifests() },
    { auth: new Authenticator({}), tracer: tracing.tracer, admin: true, logger: pino({ level: 'info' }, sink), capture: { flushIntervalMs: 20 } },
  );
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 0 });
}, 20 * 60_000);

afterAll(async () => {
  await gateway?.close();
  await tracing?.shutdown();
  await up?.close();
  await native?.close();
  await collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A policy's records: metadata joined with its content by request id (the local directory keeps them apart, as a bucket does). */
function records(policyName: string): CaptureRecord[] {
  const contents = new Map(jsonLines(join(dir, policyName, 'content')).map((c) => [c.requestId, c.content]));
  return jsonLines(join(dir, policyName, 'metadata')).map((m) => {
    const content = contents.get(m.requestId);
    return (content === undefined ? m : { ...m, content }) as unknown as CaptureRecord;
  });
}

/** The record of one request id, once the local-directory destination has written it. */
async function recordOf(policyName: string, requestId: string): Promise<CaptureRecord> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = records(policyName).filter((r) => r.requestId === requestId);
    // Metadata and content are separate files, appended one after the other: wait for both.
    if (found.length > 0 && (found[0]!.policy.mode === 'Metadata' || found[0]!.content !== undefined)) {
      expect(found).toHaveLength(1);
      return found[0]!;
    }
    if (Date.now() > deadline) throw new Error(`no capture record for ${requestId} under ${policyName}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const accessLog = (requestId: string): Record<string, unknown> | undefined =>
  logs
    .split('\n')
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.requestId === requestId);

describe('the capture stage through tollgate dev', () => {
  it('OpenAI chat: one record with the metadata joined to the trace, and the prompt redacted in the data plane', async () => {
    up.script({ kind: 'ok', content: `reach me at ${MAIL}`, usage: { prompt: 12, completion: 4 } });
    const res = await openai.chat.completions.create({ model: 'audited-chat', messages: [{ role: 'user', content: `I am ${MAIL}, card ${CARD}` }] }).withResponse();
    const requestId = res.response.headers.get('x-request-id') ?? '';
    const r = await recordOf('audit', requestId);
    expect(r).toMatchObject({
      namespace: 'default',
      caller: { kind: 'anonymous' },
      route: 'default/audited',
      rule: 'default',
      provider: 'default/up',
      model: 'audited-chat',
      upstreamModel: 'up-model',
      stream: false,
      status: 200,
      decision: 'served',
      tokens: { input: 12, output: 4, cached: 0 },
      policy: { id: 'default/audit', mode: 'Redacted' },
    });
    expect(r.costUsd).toBeCloseTo((12 * 1 + 4 * 2) / 1e6, 12);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.content?.request?.messages?.[0]?.content).toBe('I am [EMAIL], card [PAYMENT_CARD]');
    expect(r.content?.response?.choices?.[0]?.message.content).toBe('reach me at [EMAIL]');
    expect(r.content?.redactions).toEqual({ Email: 2, PaymentCard: 1 });
    const raw = JSON.stringify(records('audit'));
    expect(raw).not.toContain(MAIL);
    expect(raw).not.toContain('4111');

    // The same request in the trace: the SERVER span names policy and mode; its ids are the record's.
    await tracing.flush();
    const isIt = (s: { kind: string; attributes: Record<string, unknown> }): boolean => s.kind === 'server' && s.attributes['tollgate.request_id'] === requestId;
    const span = (await collector.waitFor((spans) => spans.some(isIt))).find(isIt)!;
    expect(span.attributes).toMatchObject({ 'tollgate.data_policy': 'default/audit', 'tollgate.capture.mode': 'Redacted', 'tollgate.capture.recorded': true });
    expect(r.traceId).toBe(span.traceId);
    expect(r.spanId).toBe(span.spanId);
  });

  it('a streamed answer is recorded once, assembled (text, finish reason; usage as the record\'s tokens), never chunk by chunk', async () => {
    up.script({ kind: 'stream', chunks: 5, intervalMs: 0, content: 'w' });
    const res = await openai.chat.completions.create({ model: 'audited-chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count' }] }).withResponse();
    let text = '';
    for await (const c of res.data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('w w w w w');
    const requestId = res.response.headers.get('x-request-id') ?? '';
    const r = await recordOf('audit', requestId);
    expect(r.stream).toBe(true);
    expect(r.decision).toBe('served');
    expect(r.tokens).toEqual({ input: 7, output: 5, cached: 0 });
    expect(r.content?.response).toEqual({ choices: [{ index: 0, message: { role: 'assistant', content: 'w w w w w' }, finish_reason: 'stop' }] });
  });

  it('a stream longer than maxRecordBytes is kept only up to it while it runs, recorded cut, and gives its room back', async () => {
    up.script({ kind: 'stream', chunks: 300, intervalMs: 2, content: 'abcdefghij' });
    const res = await openai.chat.completions.create({ model: 'long-chat', stream: true, messages: [{ role: 'user', content: 'go on' }] }).withResponse();
    let text = '';
    let heldMost = 0;
    for await (const c of res.data) {
      text += c.choices[0]?.delta.content ?? '';
      heldMost = Math.max(heldMost, STREAM_TEXT_BUDGET.held);
    }
    // The client got all of it; the recorder kept at most maxRecordBytes characters of it at any time.
    expect(text.length).toBeGreaterThan(3_000);
    expect(heldMost).toBeGreaterThan(0);
    expect(heldMost).toBeLessThanOrEqual(1024);
    const r = await recordOf('long', res.response.headers.get('x-request-id') ?? '');
    expect((r.content as { truncated?: boolean } | undefined)?.truncated).toBe(true);
    expect(String(r.content?.response)).toContain('abcdefghij abcdefghij');
    expect(STREAM_TEXT_BUDGET.held).toBe(0);
  });

  it('Anthropic Messages, answered and streamed, are recorded in the same shape', async () => {
    up.script({ kind: 'ok', content: 'bonjour' });
    const answer = await anthropic.messages.create({ model: 'audited-chat', max_tokens: 20, system: `ops: ${MAIL}`, messages: [{ role: 'user', content: 'salut' }] }).withResponse();
    const r = await recordOf('audit', answer.response.headers.get('x-request-id') ?? '');
    expect(r.policy.mode).toBe('Redacted');
    expect(JSON.stringify(r.content?.request)).toContain('ops: [EMAIL]');
    expect(JSON.stringify(r.content?.request)).toContain('salut');
    expect(r.content?.response?.choices?.[0]?.message.content).toBe('bonjour');

    up.script({ kind: 'stream', chunks: 3, intervalMs: 0, content: 'hi' });
    const stream = await anthropic.messages.create({ model: 'audited-chat', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hey' }] }).withResponse();
    for await (const _event of stream.data) void _event;
    const s = await recordOf('audit', stream.response.headers.get('x-request-id') ?? '');
    expect(s.stream).toBe(true);
    expect(s.content?.response?.choices?.[0]?.message.content).toBe('hi hi hi');
  });

  it('Anthropic Messages documents (a content document with its title, a text document in a tool_result) are recorded redacted', async () => {
    // Before, either document was a 400 at the gateway's door; their text is read as any text now.
    up.script({ kind: 'ok', content: 'noted' });
    const answer = await anthropic.messages
      .create({
        model: 'audited-chat',
        max_tokens: 20,
        tools: [{ name: 'read_doc', input_schema: { type: 'object', properties: {} } }],
        messages: [
          { role: 'user', content: [{ type: 'document', source: { type: 'content', content: [{ type: 'text', text: `card ${CARD}` }] }, title: `from ${MAIL}` }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_doc', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: `write to ${MAIL}` } }] }] },
        ],
      })
      .withResponse();
    const r = await recordOf('audit', answer.response.headers.get('x-request-id') ?? '');
    const request = JSON.stringify(r.content?.request);
    expect(request).toContain('card [PAYMENT_CARD]');
    expect(request).toContain('write to [EMAIL]');
    expect(request).not.toContain(MAIL);
    expect(request).not.toContain('4111');
  });

  it('the Responses API is recorded too', async () => {
    up.script({ kind: 'ok', content: `to ${MAIL}` });
    const res = await openai.responses.create({ model: 'audited-chat', input: `from ${MAIL}` }).withResponse();
    const r = await recordOf('audit', res.response.headers.get('x-request-id') ?? '');
    expect(JSON.stringify(r.content?.request)).toContain('from [EMAIL]');
    expect(r.content?.response?.choices?.[0]?.message.content).toBe('to [EMAIL]');
  });

  it('a Responses request an OpenAI target serves natively is recorded as sent, with the Response (answered and streamed)', async () => {
    const res = await openai.responses.create({ model: 'native-chat', instructions: `cc ${MAIL}`, input: `hello from ${MAIL}` }).withResponse();
    const r = await recordOf('native', res.response.headers.get('x-request-id') ?? '');
    expect(r.provider).toBe('default/oai');
    expect(r.content?.request).toEqual({ instructions: 'cc [EMAIL]', input: 'hello from [EMAIL]' });
    expect(JSON.stringify(r.content?.response)).toContain('hello from [EMAIL]');
    expect(JSON.stringify(r)).not.toContain(MAIL);

    const stream = await openai.responses.create({ model: 'native-chat', input: `stream ${MAIL}`, stream: true }).withResponse();
    for await (const _event of stream.data) void _event;
    const s = await recordOf('native', stream.response.headers.get('x-request-id') ?? '');
    expect(s.stream).toBe(true);
    expect(s.content?.request).toEqual({ input: 'stream [EMAIL]' });
    expect(JSON.stringify(s.content?.response)).toContain('stream [EMAIL]');
    expect(JSON.stringify(s)).not.toContain(MAIL);
  });

  it('records the request as it went upstream: after the guardrail masked it (mode Full keeps the rest)', async () => {
    up.script({ kind: 'ok', content: 'ok' });
    const res = await openai.chat.completions.create({ model: 'lax-chat', messages: [{ role: 'user', content: `mail ${MAIL} ref zq-771` }] }).withResponse();
    const r = await recordOf('lax', res.response.headers.get('x-request-id') ?? '');
    expect(r.policy).toEqual({ id: 'default/lax', mode: 'Full' });
    expect(r.content?.request?.messages?.[0]?.content).toBe('mail [EMAIL] ref zq-771');
    expect((up.requests.at(-1)?.body as { messages: { content: string }[] }).messages[0]?.content).toBe('mail [EMAIL] ref zq-771');
  });

  it('the opt-out header is honoured only where the policy allows it', async () => {
    up.script({ kind: 'ok', content: 'answer-zq-55' });
    const optOut = { headers: { 'x-tollgate-capture': 'off' } };
    const allowed = await openai.chat.completions.create({ model: 'lax-chat', messages: [{ role: 'user', content: 'secret-zq-90' }] }, optOut).withResponse();
    const a = await recordOf('lax', allowed.response.headers.get('x-request-id') ?? '');
    expect(a.policy).toEqual({ id: 'default/lax', mode: 'Metadata', optedOut: true });
    expect(a.content).toBeUndefined();
    expect(a.tokens).toBeDefined();
    expect(JSON.stringify(records('lax'))).not.toContain('secret-zq-90');

    const refused = await openai.chat.completions.create({ model: 'audited-chat', messages: [{ role: 'user', content: 'kept-zq-91' }] }, optOut).withResponse();
    const b = await recordOf('audit', refused.response.headers.get('x-request-id') ?? '');
    expect(b.policy).toEqual({ id: 'default/audit', mode: 'Redacted' });
    expect(b.content?.request?.messages?.[0]?.content).toBe('kept-zq-91');
  });

  it('Metadata mode records no content; a refused request is recorded with its status and error code', async () => {
    up.script({ kind: 'ok', content: 'meta-answer-zq' });
    const ok = await openai.chat.completions.create({ model: 'meta-chat', messages: [{ role: 'user', content: 'meta-prompt-zq' }] }).withResponse();
    const m = await recordOf('meta', ok.response.headers.get('x-request-id') ?? '');
    expect(m.policy.mode).toBe('Metadata');
    expect(m.content).toBeUndefined();
    expect(m.tokens).toBeDefined();

    // The upstream's own error code is the client's to read; the record says the gateway's word for it
    // (an upstream chooses its code, and may put the request in it).
    up.script({ kind: 'error', status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: 'quoted-meta-prompt-zq' } } });
    const err = (await openai.chat.completions
      .create({ model: 'meta-chat', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-request-id': 'refused-zq-1' } })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.code).toBe('quoted-meta-prompt-zq');
    const f = await recordOf('meta', 'refused-zq-1');
    expect(f.status).toBe(err.status);
    expect(f.decision).toBe('upstream_rejected');
    expect(JSON.stringify(records('meta'))).not.toContain('meta-prompt-zq');
    expect(JSON.stringify(records('meta'))).not.toContain('meta-answer-zq');
  });

  it("records an anonymous call to a team's own open route under the platform's audit of that namespace", async () => {
    // No credential at all, and a key that does not verify (anonymous too on a route open to anyone).
    const bare = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'team-b-open', messages: [{ role: 'user', content: 'bare-prompt-zq' }] }),
    });
    expect(bare.status).toBe(200);
    const badKey = await openai.chat.completions.create({ model: 'team-b-open', messages: [{ role: 'user', content: 'bad-key-prompt-zq' }] }).withResponse();
    // Before, an anonymous caller had no namespace: the platform's namespaces policy recorded nothing.
    const bareRecord = await recordOf('audit-team-b', bare.headers.get('x-request-id') ?? '');
    expect(bareRecord).toMatchObject({ namespace: 'team-b', caller: { kind: 'anonymous' }, route: 'team-b/open', policy: { id: 'tollgate-system/audit-team-b', mode: 'Full' } });
    expect(JSON.stringify(bareRecord.content)).toContain('bare-prompt-zq');
    const keyRecord = await recordOf('audit-team-b', badKey.response.headers.get('x-request-id') ?? '');
    expect(JSON.stringify(keyRecord.content)).toContain('bad-key-prompt-zq');
  });

  it('the access log names policy and mode (and whether a record was made), never the content', async () => {
    up.script({ kind: 'ok', content: 'log-answer-zq' });
    const captured = await openai.chat.completions.create({ model: 'audited-chat', messages: [{ role: 'user', content: `log-prompt-zq ${MAIL}` }] }).withResponse();
    const plain = await openai.chat.completions.create({ model: 'plain-chat', messages: [{ role: 'user', content: 'log-prompt-zq' }] }).withResponse();
    const optedOut = await openai.chat.completions.create({ model: 'lax-chat', messages: [{ role: 'user', content: 'log-prompt-zq' }] }, { headers: { 'x-tollgate-capture': 'off' } }).withResponse();
    await recordOf('lax', optedOut.response.headers.get('x-request-id') ?? '');
    const line = accessLog(captured.response.headers.get('x-request-id') ?? '');
    expect(line?.dataPolicy).toEqual({ policy: 'default/audit', mode: 'Redacted', recorded: true });
    expect(accessLog(optedOut.response.headers.get('x-request-id') ?? '')?.dataPolicy).toEqual({ policy: 'default/lax', mode: 'Metadata', recorded: true, optedOut: true });
    const plainLine = accessLog(plain.response.headers.get('x-request-id') ?? '');
    expect(plainLine).toBeDefined();
    expect(plainLine?.dataPolicy).toBeUndefined();
    await tracing.flush();
    await collector.waitFor((spans) => spans.some((s) => s.attributes['tollgate.request_id'] === plain.response.headers.get('x-request-id')));
    const everywhere = `${logs}\n${JSON.stringify(collector.spans())}`;
    for (const content of ['log-prompt-zq', 'log-answer-zq', MAIL, 'secret-zq-90', 'kept-zq-91']) expect(everywhere).not.toContain(content);
  });

  it('an otlpLogs destination: the real collector receives GenAI events, redacted and joined to the trace; a None namespace sends it nothing', async () => {
    // First a caller of namespace quiet, governed by the None policy: answered, never recorded.
    up.script({ kind: 'ok', content: 'quiet-answer-zq' });
    const quiet = await new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'tg-quiet-key', maxRetries: 0 })
      .chat.completions.create({ model: 'plain-chat', messages: [{ role: 'user', content: `quiet-prompt-zq ${MAIL}` }] })
      .withResponse();
    const quietId = quiet.response.headers.get('x-request-id') ?? '';
    expect(quiet.data.choices[0]?.message.content).toBe('quiet-answer-zq');
    expect(accessLog(quietId)?.dataPolicy).toEqual({ policy: 'quiet/quiet', mode: 'None', recorded: false });

    up.script({ kind: 'ok', content: `write to ${MAIL}`, usage: { prompt: 9, completion: 3 } });
    const res = await openai.chat.completions.create({ model: 'otlp-chat', messages: [{ role: 'user', content: `I am ${MAIL}, card ${CARD}` }] }).withResponse();
    const requestId = res.response.headers.get('x-request-id') ?? '';
    const deadline = Date.now() + 20_000;
    const ofRequest = () => collector.logs().filter((l) => l.attributes['tollgate.request_id'] === requestId);
    while (ofRequest().length === 0) {
      if (Date.now() > deadline) throw new Error(`the collector received no log record for ${requestId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const [log, ...more] = ofRequest();
    expect(more).toEqual([]);
    expect(log?.eventName).toBe(GENAI_EVENT_NAME);
    expect(log?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'otlp-chat',
      'gen_ai.response.model': 'up-model',
      'gen_ai.provider.name': 'default/up',
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.output_tokens': 3,
      'tollgate.namespace': 'default',
      'tollgate.route': 'default/otlp',
      'tollgate.data_policy': 'default/otlp',
      'tollgate.capture.mode': 'Redacted',
    });
    expect(JSON.parse(String(log?.attributes['gen_ai.input.messages']))).toMatchObject({ messages: [{ role: 'user', content: 'I am [EMAIL], card [PAYMENT_CARD]' }] });
    expect(String(log?.attributes['gen_ai.output.messages'])).toContain('write to [EMAIL]');
    expect((JSON.parse(log?.body ?? '{}') as CaptureRecord).content?.redactions).toEqual({ Email: 2, PaymentCard: 1 });
    await tracing.flush();
    const isIt = (s: { kind: string; attributes: Record<string, unknown> }): boolean => s.kind === 'server' && s.attributes['tollgate.request_id'] === requestId;
    expect(log?.traceId).toBe((await collector.waitFor((spans) => spans.some(isIt))).find(isIt)?.traceId);

    // Nothing of the None namespace's request reached the collector, as logs or in traces.
    const received = JSON.stringify(collector.logs());
    for (const content of [MAIL, '4111', 'quiet-prompt-zq', 'quiet-answer-zq', quietId]) expect(received).not.toContain(content);
    expect(JSON.stringify(collector.spans())).not.toMatch(/quiet-(prompt|answer)-zq/);
  });

  it('/debug/route shows the DataPolicy that would govern a request, and the opt-out where it applies', async () => {
    const explain = async (model: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> => {
      const res = await fetch(`${gateway.adminUrl as string}/debug/route`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.adminToken}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { decision: Record<string, unknown> }).decision;
    };
    expect((await explain('audited-chat')).dataPolicy).toEqual({
      policy: 'default/audit',
      matchedBy: 'route default/audited',
      mode: 'Redacted',
      optedOut: false,
      allowOptOut: false,
      sampleRate: 1,
      parts: ['Request', 'Response'],
      maxRecordBytes: 262_144,
      redaction: { detectors: ['Email', 'Phone', 'PaymentCard', 'IBAN', 'NationalID', 'IPAddress', 'Credential'], customPatterns: [] },
      destinations: [{ name: 'disk', type: 'localDirectory' }],
    });
    expect((await explain('lax-chat', { 'x-tollgate-capture': 'off', 'x-request-id': 'req-1' })).dataPolicy).toMatchObject({ policy: 'default/lax', mode: 'Metadata', optedOut: true, sampled: true });
    expect((await explain('audited-chat', { 'x-tollgate-capture': 'off' })).dataPolicy).toMatchObject({ mode: 'Redacted', optedOut: false });
    expect((await explain('plain-chat')).dataPolicy).toBeNull();
    expect((await explain('team-b-open')).dataPolicy).toMatchObject({ policy: 'tollgate-system/audit-team-b', matchedBy: 'namespace team-b' });
    // Sampled by the key derived from the admin token, which every data plane of an installation
    // holds (so replicas agree on a request id) and no caller does (so no caller can pick ids to escape it).
    const sampler = captureSampler(gateway.adminToken);
    const ids = Array.from({ length: 24 }, (_, i) => `half-${i}`);
    const shown = await Promise.all(ids.map(async (id) => (await explain('half-chat', { 'x-request-id': id })).dataPolicy as { sampled: boolean }));
    expect(shown.map((d) => d.sampled)).toEqual(ids.map((id) => sampler.sampled(id, 0.5)));
    expect(new Set(shown.map((d) => d.sampled))).toEqual(new Set([true, false]));
  });
});
