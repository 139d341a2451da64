import { randomFillSync } from 'node:crypto';
import {
  type Attributes,
  type AttributeValue,
  context as apiContext,
  type Context,
  type Exception,
  isSpanContextValid,
  type Link,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { AlwaysOnSampler, ParentBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import type { EncodableSpan } from './otlp-span-encoder.js';
import { DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT } from './tracing-config.js';
import type { SpanDrops } from './span-drop-metrics.js';

/** The SDK's default span limits (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT). */
const ATTRIBUTE_COUNT_LIMIT = 128;
const EVENT_COUNT_LIMIT = 128;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** Random ids from a pooled buffer: one randomFillSync per 4,096 ids instead of one per id. */
class IdSource {
  private readonly pool = Buffer.allocUnsafe(16 * 4096);
  private at = this.pool.length;

  private hex(bytes: number, invalid: string): string {
    for (;;) {
      if (this.at + bytes > this.pool.length) {
        randomFillSync(this.pool);
        this.at = 0;
      }
      const id = this.pool.toString('hex', this.at, this.at + bytes);
      this.at += bytes;
      if (id !== invalid) return id;
    }
  }

  traceId(): string {
    return this.hex(16, INVALID_TRACE_ID);
  }

  spanId(): string {
    return this.hex(8, INVALID_SPAN_ID);
  }
}

/**
 * How many attributes spans of one start name have ended with (the most so far): a new span of that
 * name makes its attribute lists that long at once, instead of growing them 0 → 17 → 41 slots and
 * throwing the shorter ones away (the SERVER span ends with about two dozen).
 */
interface AttributeCount {
  count: number;
}

/** Start names whose attribute count is kept (a route's model is part of a CLIENT span's name). */
const MAX_COUNTED_NAMES = 256;

/** Where ended spans go (span-batcher.ts). */
export interface SpanSink {
  ended(span: LeanSpan): void;
  /** The spans it dropped, by why (a sink that never drops has none). */
  drops?(): SpanDrops;
}

const NO_DROPS: SpanDrops = { queue_full: 0, export_failed: 0, shutdown: 0 };

/**
 * `value` with every string cut to `limit` characters, as the SDK's span cuts it
 * (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT): a string, or each string of an array. A value within the
 * limit is returned as it is, so the common case costs a length check.
 */
function truncated(value: AttributeValue, limit: number): AttributeValue {
  if (typeof value === 'string') return value.length <= limit ? value : value.substring(0, limit);
  if (!Array.isArray(value)) return value;
  let within = true;
  for (let i = 0; within && i < value.length; i++) {
    const item: unknown = value[i];
    within = typeof item !== 'string' || item.length <= limit;
  }
  return within ? value : (value.map((item: unknown) => (typeof item === 'string' && item.length > limit ? item.substring(0, limit) : item)) as AttributeValue);
}

function isAttributeValue(value: unknown): value is AttributeValue {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (!Array.isArray(value)) return false;
  // Homogeneous arrays of primitives (nulls allowed), as the SDK accepts them.
  let kind: string | undefined;
  for (const item of value as unknown[]) {
    if (item === null || item === undefined) continue;
    const k = typeof item;
    if (k !== 'string' && k !== 'number' && k !== 'boolean') return false;
    if (kind === undefined) kind = k;
    else if (k !== kind) return false;
  }
  return true;
}

interface SpanEvent {
  name: string;
  atMs: number;
  attributes: Attributes | undefined;
}

/** Every span's events while it has none (never written: addEvent replaces it with a list of its own). */
const NO_EVENTS: SpanEvent[] = [];

/**
 * A recording span kept as plain fields: what the OTLP encoder writes and nothing else (no
 * hrtime arrays, no copies of the attributes, no processor chain). Sampled-out spans are never
 * created: the tracer hands out the API's non-recording span for them.
 */
export class LeanSpan implements Span, EncodableSpan {
  readonly startMs = performance.now();
  endMs = 0;
  /**
   * The attributes as two parallel lists in the order an object holding them enumerates them
   * (what the SDK's serializer writes): cheaper to fill and to walk than an object that gains
   * two dozen keys one by one, which V8 keeps as a dictionary. Made as long as `expected` says and
   * filled up to `attributeCount`; cut to that length at end(), so an ended span's lists hold its
   * attributes and nothing else.
   */
  attributeKeys: string[];
  attributeValues: AttributeValue[];
  private attributeCount = 0;
  /** A key that looks like an array index was set: an object enumerates those first, so the order is settled at end(). */
  private indexLikeKeys = false;
  droppedAttributesCount = 0;
  /** NO_EVENTS until the first event: most spans have none, and a held stream keeps two spans open. */
  events: SpanEvent[] = NO_EVENTS;
  droppedEventsCount = 0;
  statusCode: number = SpanStatusCode.UNSET;
  statusMessage: string | undefined;
  readonly traceStateText: string;
  private ended = false;
  private context: SpanContext | undefined;

  constructor(
    private readonly sink: SpanSink,
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
    private readonly traceState: SpanContext['traceState'],
    readonly parentSpanId: string | undefined,
    readonly parentIsRemote: boolean,
    public name: string,
    readonly kind: SpanKind,
    readonly links: EncodableSpan['links'],
    private readonly expected: AttributeCount,
    /** Characters a string attribute value keeps (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT). */
    private readonly valueLengthLimit: number,
  ) {
    this.traceStateText = traceState?.serialize() ?? '';
    this.attributeKeys = new Array<string>(expected.count);
    this.attributeValues = new Array<AttributeValue>(expected.count);
  }

  /** The attributes as one object (a copy). */
  get attributes(): Attributes {
    const out: Attributes = {};
    const keys = this.attributeKeys;
    for (let i = 0; i < this.attributeCount; i++) out[keys[i] as string] = this.attributeValues[i];
    return out;
  }

  /**
   * traceparent for a request this span makes, as W3CTraceContextPropagator.inject writes it (its
   * ids are valid by construction), without a context to carry it there. Never tracestate: the
   * gateway sets none of its own, so any it has is the caller's (its vendors' key-value pairs, which
   * may name users or tenants), and a caller's trace headers do not go to a provider
   * (docs/observability.md). Before, a caller's tracestate reached the provider verbatim whenever
   * tracing was on.
   */
  injectInto(headers: Record<string, string>): void {
    headers.traceparent = `00-${this.traceId}-${this.spanId}-0${this.traceFlags.toString(16)}`;
  }

  spanContext(): SpanContext {
    this.context ??= { traceId: this.traceId, spanId: this.spanId, traceFlags: this.traceFlags, ...(this.traceState === undefined ? {} : { traceState: this.traceState }) };
    return this.context;
  }

  /** Sets a valid attribute: a key already set keeps its place, a new one past the limit is dropped and counted (as the SDK's span). */
  private put(key: string, given: AttributeValue): void {
    const value = truncated(given, this.valueLengthLimit);
    const keys = this.attributeKeys;
    const n = this.attributeCount;
    for (let i = 0; i < n; i++) {
      if (keys[i] === key) {
        this.attributeValues[i] = value;
        return;
      }
    }
    if (n >= ATTRIBUTE_COUNT_LIMIT) {
      this.droppedAttributesCount++;
      return;
    }
    keys[n] = key;
    this.attributeValues[n] = value;
    this.attributeCount = n + 1;
    const first = key.charCodeAt(0);
    if (first >= 48 && first <= 57) this.indexLikeKeys = true;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended || value === null || value === undefined || key.length === 0 || !isAttributeValue(value)) return this;
    this.put(key, value);
    return this;
  }

  setAttributes(attributes: Attributes): this {
    if (this.ended) return this;
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== null && value !== undefined && key.length > 0 && isAttributeValue(value)) this.put(key, value);
    }
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, _time?: TimeInput): this {
    if (this.ended) return this;
    if (this.events.length >= EVENT_COUNT_LIMIT) {
      this.droppedEventsCount++;
      return this;
    }
    const attributes = attributesOrTime !== undefined && typeof attributesOrTime === 'object' && !Array.isArray(attributesOrTime) && !(attributesOrTime instanceof Date) ? validAttributes(attributesOrTime, this.valueLengthLimit) : undefined;
    const event = { name, atMs: performance.now(), attributes };
    if (this.events === NO_EVENTS) this.events = [event];
    else this.events.push(event);
    return this;
  }

  addLink(_link: Link): this {
    return this;
  }

  addLinks(_links: Link[]): this {
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.statusCode === SpanStatusCode.OK) return this;
    this.statusCode = status.code;
    this.statusMessage = typeof status.message === 'string' ? status.message : undefined;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(_endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = performance.now();
    const n = this.attributeCount;
    if (n > this.expected.count) this.expected.count = n;
    // Shortening a list frees its unused slots in place (no new list).
    this.attributeKeys.length = n;
    this.attributeValues.length = n;
    if (this.indexLikeKeys) {
      // In an object's order: index-like keys first, ascending, then the others as set.
      const attributes = this.attributes;
      this.attributeKeys = Object.keys(attributes);
      this.attributeValues = this.attributeKeys.map((k) => attributes[k] as AttributeValue);
    }
    if ((this.traceFlags & TraceFlags.SAMPLED) !== 0) this.sink.ended(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, _time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      if (exception.name !== undefined) attributes['exception.type'] = exception.name;
      if (exception.message !== undefined) attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes);
  }
}

function validAttributes(attributes: Attributes, valueLengthLimit = Infinity): Attributes {
  const out: Attributes = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (key.length > 0 && value !== null && value !== undefined && isAttributeValue(value)) out[key] = truncated(value, valueLengthLimit);
  }
  return out;
}

const NO_LINKS: EncodableSpan['links'] = [];
const NO_API_LINKS: Link[] = [];
const SAMPLED: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const NOT_SAMPLED: SamplingResult = { decision: SamplingDecision.NOT_RECORD };
/** The default sampler (OTEL_TRACES_SAMPLER unset), as its own description says it. */
const PARENT_BASED_ALWAYS_ON = new ParentBasedSampler({ root: new AlwaysOnSampler() }).toString();

/**
 * A Tracer that makes LeanSpans: the data plane's two spans per request (SERVER, one CLIENT per
 * attempt) without the SDK's span objects. Sampling is the SDK's own Sampler (the one
 * OTEL_TRACES_SAMPLER names), asked exactly as the SDK's tracer asks it; the default,
 * parentbased_always_on, is answered here as that sampler answers it (sampled unless the valid
 * parent is not), without its second look-up and validation of the parent.
 */
export class LeanTracer implements Tracer {
  private readonly ids = new IdSource();
  /** Per start name, how many attributes its spans end with (at most MAX_COUNTED_NAMES names). */
  private readonly counts = new Map<string, AttributeCount>();
  private readonly parentBasedAlwaysOn: boolean;

  constructor(
    private readonly sampler: Sampler,
    private readonly sink: SpanSink,
    /** Characters a string attribute value keeps (span, event and link attributes), as TracingConfig says. */
    private readonly valueLengthLimit: number = DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
  ) {
    this.parentBasedAlwaysOn = sampler instanceof ParentBasedSampler && sampler.toString() === PARENT_BASED_ALWAYS_ON;
  }

  /** Spans its sink dropped (tollgate_spans_dropped_total). */
  spanDrops(): SpanDrops {
    return this.sink.drops?.() ?? NO_DROPS;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = apiContext.active()): Span {
    return this.start(name, options, options.root === true ? undefined : trace.getSpan(context), () => context);
  }

  /**
   * startSpan under `parent` (a span of this tracer) without a Context that carries it: the context
   * (`context()`, which must carry `parent`) is made only for a sampler other than the default.
   */
  startChildSpan(name: string, options: SpanOptions, parent: LeanSpan, context: () => Context): Span {
    return this.start(name, options, options.root === true ? undefined : parent, context);
  }

  private start(name: string, options: SpanOptions, parentSpan: Span | undefined, contextOf: () => Context): Span {
    const parent = parentSpan?.spanContext();
    // A LeanSpan's ids were made here: valid without the API's regular-expression checks.
    const validParent = parent !== undefined && (parentSpan instanceof LeanSpan || isSpanContextValid(parent)) ? parent : undefined;
    const traceId = validParent?.traceId ?? this.ids.traceId();
    const spanId = this.ids.spanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? NO_API_LINKS;
    const result = this.parentBasedAlwaysOn
      ? validParent === undefined || (validParent.traceFlags & TraceFlags.SAMPLED) !== 0
        ? SAMPLED
        : NOT_SAMPLED
      : this.sampler.shouldSample(
          options.root === true ? trace.deleteSpan(contextOf()) : contextOf(),
          traceId,
          name,
          kind,
          options.attributes === undefined ? {} : validAttributes(options.attributes),
          links,
        );
    const traceState = result.traceState ?? validParent?.traceState;
    const traceFlags = result.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE;
    if (result.decision === SamplingDecision.NOT_RECORD) {
      return trace.wrapSpanContext({ traceId, spanId, traceFlags, ...(traceState === undefined ? {} : { traceState }) });
    }
    const span = new LeanSpan(
      this.sink,
      traceId,
      spanId,
      traceFlags,
      traceState,
      validParent?.spanId,
      validParent?.isRemote === true,
      name,
      kind,
      links.length === 0
        ? NO_LINKS
        : links.map((l) => ({
            traceId: l.context.traceId,
            spanId: l.context.spanId,
            traceFlags: l.context.traceFlags,
            traceStateText: l.context.traceState?.serialize() ?? '',
            isRemote: l.context.isRemote === true,
            attributes: l.attributes === undefined ? undefined : validAttributes(l.attributes, this.valueLengthLimit),
          })),
      this.countOf(name),
      this.valueLengthLimit,
    );
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    if (result.attributes !== undefined) span.setAttributes(result.attributes);
    return span;
  }

  private countOf(name: string): AttributeCount {
    let count = this.counts.get(name);
    if (count === undefined) {
      count = { count: 0 };
      if (this.counts.size < MAX_COUNTED_NAMES) this.counts.set(name, count);
    }
    return count;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    // Only the shapes the API defines: (name, fn), (name, options, fn), (name, options, context, fn).
    const fn = args[args.length - 1] as F;
    const options = (args.length >= 2 ? args[0] : {}) as SpanOptions;
    const parent = (args.length >= 3 ? args[1] : apiContext.active()) as Context;
    const span = this.startSpan(name, options, parent);
    return apiContext.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}
