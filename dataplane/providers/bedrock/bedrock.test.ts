import { describe, expect, it } from 'vitest';
import { eventStreamMessage } from '../../../test/emulators/bedrock.js';
import { crc32 } from './crc32.js';
import { EventStreamDecoder, EventStreamError } from './event-stream.js';
import { BedrockStreamTransformer } from './bedrock-stream.js';
import { bedrockAdapter } from './bedrock-adapter.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import { toConverseRequest } from './bedrock-request.js';
import { createHmac } from 'node:crypto';
import { MAX_SIGNING_KEYS, signingKey, signingKeysHeld, signRequest } from '../../config/sigv4.js';

// AWS Signature Version 4 test suite vectors (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
// us-east-1, service "service"), signing the published requests.
const SUITE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const AT = Date.parse('2015-08-30T12:36:00Z');
const sign = (method: string, url: string, headers: Record<string, string> = {}, body = '') =>
  signRequest({ method, url, headers, body, region: 'us-east-1', service: 'service' }, SUITE, AT);

describe('sigv4', () => {
  it('get-vanilla', () => {
    const r = sign('GET', 'https://example.amazonaws.com/');
    expect(r.canonicalRequest).toBe('GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(r.stringToSign.split('\n')[3]).toBe('bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
    expect(r.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('post-vanilla, query ordering, form body', () => {
    expect(sign('POST', 'https://example.amazonaws.com/').signature).toBe('5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b');
    expect(sign('GET', 'https://example.amazonaws.com/?Param2=value2&Param1=value1').signature).toBe('b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
    expect(sign('POST', 'https://example.amazonaws.com/?Param1=value1').signature).toBe('28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11');
    const form = sign('POST', 'https://example.amazonaws.com/', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'Param1=value1');
    expect(form.headers.authorization).toContain('SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a');
  });

  it('signs the session token and double-encodes an already encoded model id', () => {
    const r = signRequest(
      { method: 'POST', url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2%3A1/converse', headers: {}, body: '{}', region: 'us-east-1', service: 'bedrock' },
      { ...SUITE, sessionToken: 'tok' },
      AT,
    );
    expect(r.canonicalRequest.split('\n')[1]).toBe('/model/anthropic.claude-v2%253A1/converse');
    expect(r.headers['x-amz-security-token']).toBe('tok');
    expect(r.headers.authorization).toContain('SignedHeaders=host;x-amz-date;x-amz-security-token');
  });

  it('signs with the key of the request\'s own day, region, service and secret, however many it has derived before', () => {
    const day = 24 * 3600 * 1000;
    const check = (secret: string, region: string, service: string, now: number): void => {
      const r = signRequest({ method: 'PUT', url: 'https://bucket.example.com/key', headers: {}, body: 'body', region, service }, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: secret }, now);
      const shortDate = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
      expect(r.signature).toBe(createHmac('sha256', signingKey(secret, shortDate, region, service)).update(r.stringToSign).digest('hex'));
      expect(signingKeysHeld()).toBeLessThanOrEqual(MAX_SIGNING_KEYS);
    };
    // Combinations that differ in one part each, all held at once, signed in turn three times over:
    // a key found for one must never sign another.
    const combinations: [string, string, string, number][] = [];
    for (const secret of [SUITE.secretAccessKey, `${SUITE.secretAccessKey}rotated`])
      for (const region of ['us-east-1', 'eu-west-1'])
        for (const service of ['s3', 'bedrock']) for (const now of [AT, AT + day, AT + day + 3600 * 1000]) combinations.push([secret, region, service, now]);
    for (let round = 0; round < 3; round++) for (let i = 0; i < combinations.length; i++) check(...combinations[(i * 7 + round) % combinations.length]!);
    // More combinations than the bound: they are derived again after it empties.
    for (let i = 0; i < 3 * MAX_SIGNING_KEYS; i++) check(`${SUITE.secretAccessKey}${i % (MAX_SIGNING_KEYS + 1)}`, 'us-east-1', 's3', AT);
    expect(sign('GET', 'https://example.amazonaws.com/').signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });
});

describe('event-stream framing', () => {
  it('crc32 is IEEE CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('decodes messages split at every byte boundary', () => {
    const bytes = Buffer.concat([eventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, { role: 'assistant' }), eventStreamMessage({ ':event-type': 'messageStop', ':message-type': 'event' }, { stopReason: 'end_turn' })]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new EventStreamDecoder();
      const out = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(out.map((m) => m.headers[':event-type'])).toEqual(['messageStart', 'messageStop']);
      expect(d.pending).toBe(0);
    }
  });

  it('joins a large message that arrives in small pieces once, not on every push', () => {
    const big = eventStreamMessage({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, { delta: { text: 'x'.repeat(4 * 1024 * 1024) } });
    const d = new EventStreamDecoder();
    const out = [];
    for (let at = 0; at < big.length; at += 4096) out.push(...d.push(big.subarray(at, at + 4096)));
    expect(out).toHaveLength(1);
    // The old decoder copied everything buffered on each push: about 1,000 × 2 MB here.
    expect(d.copiedBytes).toBeLessThanOrEqual(big.length);
    expect(d.pending).toBe(0);
  });

  it('rejects a corrupted payload and a corrupted prelude', () => {
    const good = eventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, { role: 'assistant' });
    const payload = Buffer.from(good);
    payload.writeUInt8(payload.readUInt8(payload.length - 6) ^ 0xff, payload.length - 6);
    expect(() => new EventStreamDecoder().push(payload)).toThrow(EventStreamError);
    const prelude = Buffer.from(good);
    prelude.writeUInt8(prelude.readUInt8(2) ^ 0x01, 2);
    expect(() => new EventStreamDecoder().push(prelude)).toThrow(/prelude CRC/);
  });

  it('a CRC failure mid-stream becomes a stream failure, not a crash', () => {
    const t = new BedrockStreamTransformer('id', 'm', false, 0);
    const bad = Buffer.from(eventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, {}));
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1);
    expect(t.onBytes(bad)[0]?.failure?.message).toMatch(/CRC/);
  });

  it('refuses a content block index that is not an integer 0-1023, before keeping anything by it', () => {
    for (const contentBlockIndex of ['x'.repeat(100_000), 5000, -1, 1.5]) {
      const t = new BedrockStreamTransformer('id', 'm', false, 0);
      const event = eventStreamMessage({ ':event-type': 'contentBlockStart', ':message-type': 'event' }, { contentBlockIndex, start: { toolUse: { toolUseId: 't', name: 'f' } } });
      expect(t.onBytes(event)[0]?.failure?.message).toMatch(/^upstream stream names content block .*; the gateway accepts integers 0 to 1023$/);
    }
    const ok = new BedrockStreamTransformer('id', 'm', false, 0);
    expect(ok.onBytes(eventStreamMessage({ ':event-type': 'contentBlockStart', ':message-type': 'event' }, { contentBlockIndex: 3, start: { toolUse: { toolUseId: 't', name: 'f' } } }))[0]?.failure).toBeUndefined();
  });

  it("refuses an event payload past the route's JSON shape before parsing it, as the SSE path does for other providers", () => {
    const req: CanonicalRequest = { op: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, stream: true, clientWantsUsage: false };
    const t = bedrockAdapter.createByteStreamTransformer?.(req, {}, { maxDepth: 128, maxElements: 1000 });
    const wide = eventStreamMessage({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, { contentBlockIndex: 0, delta: { text: 'x' }, pad: Array.from({ length: 2000 }, () => ({})) });
    expect(t?.onBytes(wide)[0]?.failure).toMatchObject({ kind: 'ResponseTooLarge', billed: 'worstCase', message: expect.stringContaining('more than 1000 JSON objects') });
    const deep = new BedrockStreamTransformer('id', 'm', false, 0, {}, { maxDepth: 128, maxElements: 1000 });
    const nested = JSON.parse(`${'['.repeat(200)}${']'.repeat(200)}`) as unknown;
    const step = deep.onBytes(eventStreamMessage({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, { contentBlockIndex: 0, delta: { text: 'x' }, nested }))[0];
    expect(step?.failure?.message).toContain('deeper than 128 levels');
  });

  it('relays reasoning content as reasoning_content and thinking_blocks (billed as output through them), as an anthropic target does', () => {
    const t = new BedrockStreamTransformer('id', 'm', false, 0);
    const delta = (reasoningContent: Record<string, string>) =>
      t.onBytes(eventStreamMessage({ ':event-type': 'contentBlockDelta', ':message-type': 'event' }, { contentBlockIndex: 0, delta: { reasoningContent } }))[0]?.chunks.map((c) => (c.choices as { delta: unknown }[])[0]?.delta);
    expect(delta({ text: 'Let me think… about it' })).toEqual([{ reasoning_content: 'Let me think… about it' }]);
    expect(delta({ signature: 'sig' })).toEqual([{ thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'sig' }] }]);
    expect(delta({ redactedContent: 'ZW5j' })).toEqual([{ thinking_blocks: [{ type: 'redacted_thinking', data: 'ZW5j' }] }]);
  });

  it('parallel_tool_calls: false, which Converse has no setting for: only the first tool call is relayed (answers and streams)', () => {
    const req: CanonicalRequest = { op: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }], parallel_tool_calls: false }, stream: false, clientWantsUsage: false, createdAt: 1 };
    const whole = JSON.stringify({
      output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'a', input: { x: 1 } } }, { toolUse: { toolUseId: 't2', name: 'b', input: {} } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
    });
    const parsed = bedrockAdapter.parseResponse(req, 200, {}, whole);
    if (!parsed.ok) throw new Error('not ok');
    const choice = (parsed.body.choices as { message: { tool_calls: { id: string }[] }; finish_reason: string }[])[0]!;
    expect(choice.message.tool_calls.map((c) => c.id)).toEqual(['t1']);
    expect(choice.finish_reason).toBe('tool_calls');
    const both = bedrockAdapter.parseResponse({ ...req, body: { ...req.body, parallel_tool_calls: true } }, 200, {}, whole);
    if (!both.ok) throw new Error('not ok');
    expect((both.body.choices as { message: { tool_calls: unknown[] } }[])[0]!.message.tool_calls).toHaveLength(2);

    const t = bedrockAdapter.createByteStreamTransformer?.({ ...req, stream: true }, {});
    if (t === undefined) throw new Error('no byte stream');
    const ev = (type: string, payload: object) => eventStreamMessage({ ':event-type': type, ':message-type': 'event' }, payload);
    const chunks = [
      ev('messageStart', { role: 'assistant' }),
      ev('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 't1', name: 'a' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"x":1}' } } }),
      ev('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 't2', name: 'b' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{}' } } }),
      ev('messageStop', { stopReason: 'tool_use' }),
    ].flatMap((bytes) => t.onBytes(bytes)).flatMap((step) => step.chunks);
    const calls = chunks.flatMap((c) => (c.choices as { delta: { tool_calls?: { index: number; id?: string; function: { arguments: string } }[] } }[])[0]?.delta.tool_calls ?? []);
    expect(calls).toEqual([
      { index: 0, id: 't1', type: 'function', function: { name: 'a', arguments: '' } },
      { index: 0, function: { arguments: '{"x":1}' } },
    ]);
  });

  it("each answer has its own id: the response's x-amzn-requestid, or a random one, never the second it started in", () => {
    const req: CanonicalRequest = { op: 'chat', body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, stream: true, clientWantsUsage: false, createdAt: 1_700_000_000 };
    const start = eventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, { role: 'assistant' });
    const streamId = (headers: Record<string, string>): unknown => {
      const t = bedrockAdapter.createByteStreamTransformer?.(req, headers);
      return t?.onBytes(start)[0]?.chunks[0]?.id;
    };
    expect(streamId({ 'x-amzn-requestid': 'a1b2-c3' })).toBe('chatcmpl-a1b2-c3');
    const a = streamId({});
    const b = streamId({});
    expect(a).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
    const whole = JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'hi' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } });
    const wholeId = (): unknown => {
      const parsed = bedrockAdapter.parseResponse({ ...req, stream: false }, 200, {}, whole);
      return parsed.ok ? parsed.body.id : undefined;
    };
    expect(wholeId()).not.toBe(wholeId());
  });

  it("an invalid model identifier is the target's configuration (failed over), not the client's 400; a long input stays the client's", () => {
    const type = { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' };
    const f = bedrockAdapter.classifyError(400, type, JSON.stringify({ message: 'The provided model identifier is invalid.' }));
    expect(f).toMatchObject({ kind: 'ServerError', refused: 'configuration', message: 'ValidationException: The provided model identifier is invalid.' });
    expect(f.clientBody).toBeUndefined();
    expect(bedrockAdapter.classifyError(400, type, JSON.stringify({ message: 'Input is too long for requested model.' }))).toMatchObject({ kind: 'ContextLengthExceeded' });
    expect(bedrockAdapter.classifyError(400, type, JSON.stringify({ message: 'temperature: must be at most 1' }))).toMatchObject({ kind: 'ClientError' });
    expect(bedrockAdapter.classifyError(403, { 'x-amzn-errortype': 'UnrecognizedClientException' }, JSON.stringify({ message: 'The security token included in the request is invalid.' }))).toMatchObject({ kind: 'ServerError', refused: 'credentials' });
    expect(bedrockAdapter.classifyError(404, { 'x-amzn-errortype': 'ResourceNotFoundException' }, JSON.stringify({ message: 'Model not found.' }))).toMatchObject({ kind: 'ServerError', refused: 'configuration' });
  });

  it('maps in-stream exceptions to failure kinds', () => {
    const t = new BedrockStreamTransformer('id', 'm', false, 0);
    const steps = t.onBytes(eventStreamMessage({ ':exception-type': 'throttlingException', ':message-type': 'exception' }, { message: 'slow down' }));
    expect(steps[0]?.failure).toMatchObject({ kind: 'RateLimited' });
  });
});

describe('bedrock toolConfig with tool blocks in the history', () => {
  const history = [
    { role: 'user', content: 'Weather in Rome?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
    { role: 'tool', tool_call_id: 't1', content: 'Sunny' },
  ];
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  it('tool_choice none with tools: the client tools go as toolConfig (Converse refuses toolUse/toolResult without one)', () => {
    const out = toConverseRequest({ messages: history, tools, tool_choice: 'none' });
    expect(out.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: tools[0]!.function.parameters } } }] });
  });

  it('a follow-up without tools: a stub per tool the history calls', () => {
    const out = toConverseRequest({ messages: history });
    expect(out.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: {} } } } }] });
  });

  it('no tool blocks and no tools: no toolConfig', () => {
    expect(toConverseRequest({ messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: 'none' }).toolConfig).toBeUndefined();
    expect(toConverseRequest({ messages: [{ role: 'user', content: 'hi' }] }).toolConfig).toBeUndefined();
  });
});
