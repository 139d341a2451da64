import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { LeanTracer, type LeanSpan } from './lean-tracer.js';
import { SpanBatcher } from './lean-tracing.js';
import { clockOf, OtlpSpanEncoder, unixTime } from './otlp-span-encoder.js';
import { samplerFor } from './tracing.js';

const clock = clockOf(performance.timeOrigin);
const resource = resourceFromAttributes({ 'service.name': 'tollgate-test', 'service.version': '0.1.0', 'host.name': 'ünïcode-höst', 'process.pid': 42 });
const scope = { name: 'tollgate', version: '0.1.0' };

/** The same span as the SDK's exporter reads it (ReadableSpan), for its own serializer. */
function asReadable(s: LeanSpan): ReadableSpan {
  const hr = (ms: number): [number, number] => unixTime(clock, ms);
  const parent = s.parentSpanId === undefined ? undefined : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: s.traceFlags, isRemote: s.parentIsRemote };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => s.spanContext(),
    ...(parent === undefined ? {} : { parentSpanContext: parent }),
    startTime: hr(s.startMs),
    endTime: hr(s.endMs),
    status: { code: s.statusCode, ...(s.statusMessage === undefined ? {} : { message: s.statusMessage }) },
    attributes: s.attributes,
    links: [],
    events: s.events.map((e) => ({ name: e.name, time: hr(e.atMs), ...(e.attributes === undefined ? {} : { attributes: e.attributes }), droppedAttributesCount: 0 })),
    duration: [0, 0],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: 0,
  };
}

function record(sampler = samplerFor('parentbased_always_on', 1)): { tracer: LeanTracer; ended: LeanSpan[] } {
  const ended: LeanSpan[] = [];
  return { tracer: new LeanTracer(sampler, { ended: (s) => ended.push(s) }), ended };
}

describe('OtlpSpanEncoder', () => {
  it('writes the bytes the OpenTelemetry serializer writes for the same spans', () => {
    const { tracer, ended } = record();
    const incoming = new W3CTraceContextPropagator().extract(
      ROOT_CONTEXT,
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=x' },
      defaultTextMapGetter,
    );
    const server = tracer.startSpan('chat', { kind: SpanKind.SERVER, attributes: { 'gen_ai.operation.name': 'chat', 'http.request.method': 'POST' } }, incoming);
    server.updateName('chat chat-ha');
    server.setAttributes({ 'gen_ai.request.model': 'chat-ha', 'gen_ai.request.stream': true, 'gen_ai.request.temperature': 0.25, 'tollgate.route': 'default/ha', long: 'x'.repeat(300), unset: undefined });
    // Keys too long for a one-byte length, and not ASCII, as the encoder keeps their encoding per key.
    server.setAttributes({ ['k'.repeat(200)]: 'long key', 'schlüssel.größe': 3, '10': 'an object lists index-like keys first', '7': 'seven', '2xx': 'not an index' });
    const client = tracer.startSpan('chat up-a', { kind: SpanKind.CLIENT, attributes: { 'tollgate.attempt': 1, 'server.port': 8080, negative: -7, big: 2 ** 40 } }, trace.setSpan(incoming, server));
    client.setAttribute('gen_ai.response.finish_reasons', ['stop', 'length']);
    client.setAttribute('error.type', 'ServerError');
    client.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream answered 500 — ünïcode' });
    client.end();
    server.addEvent('tollgate.guardrail.decision', { 'tollgate.guardrail.policy': 'pii', 'tollgate.guardrail.findings': ['Email=2'] });
    server.setAttribute('http.response.status_code', 200);
    server.end();
    const root = tracer.startSpan('models', { kind: SpanKind.SERVER });
    root.end();
    // Past the SDK's 128 attributes, start attributes and later ones are dropped and counted.
    const many = tracer.startSpan('many', { attributes: Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`a${i}`, i])) });
    many.setAttributes({ a0: 'again', extra: true });
    many.end();
    expect(ended).toHaveLength(4);
    expect(ended[3]?.droppedAttributesCount).toBe(3);
    expect(ended[3]?.attributes.a0).toBe('again');

    const ours = new OtlpSpanEncoder({ resource: resource.attributes, scopeName: scope.name, scopeVersion: scope.version }, clock).encode(ended);
    const theirs = ProtobufTraceSerializer.serializeRequest(ended.map(asReadable));
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs ?? new Uint8Array()).toString('hex'));

    // Ids, parents and times as the SDK would have them.
    expect(server.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(ended[1]?.parentSpanId).toBe('b7ad6b7169203331');
    expect(ended[1]?.parentIsRemote).toBe(true);
    expect(ended[0]?.parentSpanId).toBe(server.spanContext().spanId);
    expect(server.spanContext().traceState?.get('vendor')).toBe('x');
    const [seconds, nanos] = unixTime(clock, ended[2]?.endMs ?? 0);
    expect(Math.abs(seconds * 1000 + nanos / 1e6 - Date.now())).toBeLessThan(5_000);
  });

  it('keeps each span\'s events its own: spans without any encode none, and one span\'s events never show on another', () => {
    const { tracer, ended } = record();
    const a = tracer.startSpan('a', { kind: SpanKind.SERVER });
    const b = tracer.startSpan('b', { kind: SpanKind.SERVER });
    const c = tracer.startSpan('c', { kind: SpanKind.SERVER });
    a.addEvent('first', { n: 1 });
    a.recordException('boom');
    c.addEvent('third');
    for (const s of [a, b, c]) s.end();
    const [ea, eb, ec] = ended as [LeanSpan, LeanSpan, LeanSpan];
    expect(ea.events.map((e) => [e.name, e.attributes])).toEqual([['first', { n: 1 }], ['exception', { 'exception.message': 'boom' }]]);
    expect(eb.events).toEqual([]);
    expect(ec.events.map((e) => e.name)).toEqual(['third']);
    const ours = new OtlpSpanEncoder({ resource: resource.attributes, scopeName: scope.name, scopeVersion: scope.version }, clock).encode(ended);
    const theirs = ProtobufTraceSerializer.serializeRequest(ended.map(asReadable));
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs ?? new Uint8Array()).toString('hex'));
  });

  it("exports the SDK batch processor's batches, each span encoded as it ended: 512 at a time, 2,048 queued at most, the rest dropped", async () => {
    const encoder = new OtlpSpanEncoder({ resource: resource.attributes, scopeName: scope.name, scopeVersion: scope.version }, clock);
    const exported: Uint8Array[] = [];
    let release = (): void => undefined;
    const batcher = new SpanBatcher(clock, (spans) => {
      exported.push(encoder.frame(spans));
      return new Promise<void>((done) => {
        release = done;
      });
    });
    const tracer = new LeanTracer(samplerFor('parentbased_always_on', 1), batcher);
    const spans: LeanSpan[] = [];
    const end = (i: number): void => {
      // Values that repeat (their encoding is kept and copied) and values that vary.
      const attributes = { 'gen_ai.operation.name': 'chat', 'tollgate.cache_hit': i % 2 === 0, 'http.response.status_code': 200 + (i % 3), 'tollgate.attempt': i, 'tollgate.request_id': `r-${i}-${'ü'.repeat(i % 50)}` };
      const span = tracer.startSpan(`chat ${i}`, { kind: SpanKind.CLIENT, attributes }) as LeanSpan;
      span.setAttribute('gen_ai.usage.output_tokens', i * 1000);
      span.end();
      // Ignored after the end, as by the SDK's span: the bytes were written at the end.
      span.setAttribute('late', 'after the end');
      spans.push(span);
    };
    // The first 512 leave at once; 2,048 more wait behind that export; 10 more find the queue full.
    for (let i = 0; i < 512 + 2048 + 10; i++) end(i);
    expect(exported).toHaveLength(1);
    const flushed = batcher.flush();
    while (exported.length < 5) {
      release();
      await new Promise((done) => setImmediate(done));
    }
    release();
    await flushed;
    // A partial batch (the SDK's 5 s timer, or a flush) goes as it is.
    for (let i = 0; i < 3; i++) end(spans.length);
    const last = batcher.flush();
    await new Promise((done) => setImmediate(done));
    release();
    await last;
    expect(exported).toHaveLength(6);
    const kept = [...spans.slice(0, 2560), ...spans.slice(2570)];
    exported.forEach((bytes, i) => {
      const theirs = ProtobufTraceSerializer.serializeRequest(kept.slice(i * 512, (i + 1) * 512).map(asReadable));
      expect(Buffer.from(bytes).equals(Buffer.from(theirs ?? new Uint8Array())), `batch ${i}`).toBe(true);
    });
  });

  it('encodes spans of a name seen before (lists made as long as that name ended with) as the SDK does, with more, fewer or as many attributes', () => {
    const { tracer, ended } = record();
    // Sizes up, down, past the 128 limit and back; each span also sets one key twice and one index-like key.
    for (const size of [3, 24, 24, 5, 40, 130, 0, 2]) {
      const span = tracer.startSpan('chat', { kind: SpanKind.SERVER, attributes: { 'gen_ai.operation.name': 'chat' } });
      for (let i = 1; i < size; i++) span.setAttribute(i === size - 1 && size % 2 === 0 ? String(i) : `a${i}`, i % 3 === 0 ? `v${i}` : i);
      span.setAttribute('gen_ai.operation.name', `chat ${size}`);
      span.end();
    }
    expect(ended.map((s) => s.attributeKeys.length)).toEqual([3, 24, 24, 5, 40, 128, 1, 2]);
    for (const s of ended) {
      expect(s.attributeValues).toHaveLength(s.attributeKeys.length);
      expect(s.attributeKeys.every((k) => typeof k === 'string')).toBe(true);
    }
    expect(ended[5]?.droppedAttributesCount).toBe(2);
    const ours = new OtlpSpanEncoder({ resource: resource.attributes, scopeName: scope.name, scopeVersion: scope.version }, clock).encode(ended);
    const theirs = ProtobufTraceSerializer.serializeRequest(ended.map(asReadable));
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs ?? new Uint8Array()).toString('hex'));
  });

  it("writes traceparent upstream as the W3C propagator writes it, and never the caller's tracestate", () => {
    const { tracer } = record(samplerFor('always_on', 1));
    const propagator = new W3CTraceContextPropagator();
    for (const tracestate of [undefined, 'vendor=x,other=y', ',']) {
      const incoming = propagator.extract(ROOT_CONTEXT, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ...(tracestate === undefined ? {} : { tracestate }) }, defaultTextMapGetter);
      for (const span of [tracer.startSpan('chat', {}, incoming), tracer.startSpan('root', { root: true })]) {
        const theirs: Record<string, string> = {};
        propagator.inject(trace.setSpan(ROOT_CONTEXT, span), theirs, defaultTextMapSetter);
        const ours: Record<string, string> = {};
        (span as LeanSpan).injectInto(ours);
        expect(ours).toEqual({ traceparent: theirs.traceparent });
      }
    }
  });

  it('samples as OTEL_TRACES_SAMPLER says: an unsampled caller trace and a zero ratio record nothing', () => {
    const { tracer, ended } = record();
    const unsampled = new W3CTraceContextPropagator().extract(ROOT_CONTEXT, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' }, defaultTextMapGetter);
    const span = tracer.startSpan('chat', { kind: SpanKind.SERVER }, unsampled);
    expect(span.isRecording()).toBe(false);
    // The trace goes on upstream, unsampled, under a span id of its own.
    expect(span.spanContext()).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', traceFlags: 0 });
    expect(span.spanContext().spanId).not.toBe('b7ad6b7169203331');
    span.end();

    const never = record(samplerFor('traceidratio', 0));
    never.tracer.startSpan('chat').end();
    const off = record(samplerFor('parentbased_always_off', 1));
    off.tracer.startSpan('chat').end();
    expect([...ended, ...never.ended, ...off.ended]).toEqual([]);
  });
});
