import { type Attributes, ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { LeanTracer, type LeanSpan } from './lean-tracer.js';
import { DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT } from './tracing-config.js';
import { samplerFor } from './tracing.js';

/** The same span calls on any tracer: values past a limit of 8 as strings, arrays, events and links. */
function makeSpan(tracer: Tracer): void {
  const link = { context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { why: 'linked-because' } };
  const span = tracer.startSpan('chat', { kind: SpanKind.SERVER, attributes: { short: 'abc', exact: '12345678', long: 'abcdefghijkl', n: 1234567890123 }, links: [link] }, ROOT_CONTEXT);
  span.setAttribute('ünïcödé', 'äöüäöüäöüäöü');
  span.setAttribute('list', ['short', 'much-longer-than-eight']);
  span.setAttribute('flags', [true, false]);
  span.setAttributes({ more: 'y'.repeat(20) });
  span.addEvent('tollgate.guardrail.decision', { 'tollgate.guardrail.categories': ['violence', 'self-harm/intent'], error: 'z'.repeat(12) });
  span.end();
}

describe('LeanTracer attribute value length limit', () => {
  it('cuts string values (alone or in arrays, on spans, events and links) as the SDK does with the same limit', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanLimits: { attributeValueLengthLimit: 8 }, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    makeSpan(provider.getTracer('sdk'));
    await provider.forceFlush();
    const theirs = exporter.getFinishedSpans()[0];

    const ended: LeanSpan[] = [];
    makeSpan(new LeanTracer(samplerFor('parentbased_always_on', 1), { ended: (s) => ended.push(s) }, 8));
    const ours = ended[0];

    expect(ours?.attributes).toEqual(theirs?.attributes);
    expect(ours?.attributes).toMatchObject({ short: 'abc', exact: '12345678', long: 'abcdefgh', list: ['short', 'much-lon'], 'ünïcödé': 'äöüäöüäö' });
    expect(ours?.events.map((e) => e.attributes)).toEqual(theirs?.events.map((e) => e.attributes));
    expect(ours?.links.map((l) => l.attributes)).toEqual(theirs?.links.map((l) => l.attributes));
    await provider.shutdown();
  });

  it('bounds values by default, where the SDK does not, and leaves values within the limit as they are', () => {
    const ended: LeanSpan[] = [];
    const tracer = new LeanTracer(samplerFor('parentbased_always_on', 1), { ended: (s) => ended.push(s) });
    const huge = 'c'.repeat(1_000_000);
    const categories = ['violence', huge];
    const span = tracer.startSpan('chat', {}, ROOT_CONTEXT);
    span.setAttribute('big', huge);
    span.setAttribute('categories', categories);
    const fine: Attributes = { ok: 'x'.repeat(DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT) };
    span.setAttributes(fine);
    span.addEvent('e', { big: huge });
    span.end();
    const attributes = ended[0]?.attributes ?? {};
    expect(attributes.big).toBe('c'.repeat(DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT));
    expect(attributes.categories).toEqual(['violence', 'c'.repeat(DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT)]);
    expect(categories[1]).toBe(huge); // the caller's array is not changed
    expect(attributes.ok).toBe(fine.ok);
    expect(ended[0]?.events[0]?.attributes?.big).toBe('c'.repeat(DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT));
  });
});
