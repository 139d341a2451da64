import type { Attributes, AttributeValue, SpanKind } from '@opentelemetry/api';

/** A span as the encoder reads it (lean-tracer.ts's LeanSpan, once ended). */
export interface EncodableSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  /** W3C tracestate, serialised; '' for none. */
  readonly traceStateText: string;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean;
  readonly name: string;
  readonly kind: SpanKind;
  /** performance.now() at start and end. */
  readonly startMs: number;
  readonly endMs: number;
  /** The attributes, keys and values at the same index, in the order an object holding them enumerates them. */
  readonly attributeKeys: readonly string[];
  readonly attributeValues: readonly AttributeValue[];
  readonly droppedAttributesCount: number;
  readonly events: readonly { name: string; atMs: number; attributes: Attributes | undefined }[];
  readonly droppedEventsCount: number;
  readonly links: readonly { traceId: string; spanId: string; traceFlags: number; traceStateText: string; isRemote: boolean; attributes: Attributes | undefined }[];
  readonly statusCode: number;
  readonly statusMessage: string | undefined;
}

const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE = 0x200;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
/** Longest string whose UTF-8 length (≤ 3 bytes per UTF-16 unit) fits a one-byte length prefix. */
const SHORT_STRING = 42;

/** The value of a hex digit (either case), -1 for any other character. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * A growable protobuf writer over one Buffer, reused between exports. Strings go through the
 * native UTF-8 encoder; a nested message reserves one length byte and moves its bytes only when
 * it turns out longer than 127.
 */
class ProtoWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;

  reset(): void {
    this.pos = 0;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A copy of what was written (the writer's buffer is reused). */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  /** A copy of what was written since `from`. */
  copyFrom(from: number): Uint8Array {
    return new Uint8Array(this.buf.subarray(from, this.pos));
  }

  /** Copies what was written into `target` at `offset`. */
  copyTo(target: Uint8Array, offset: number): void {
    target.set(this.buf.subarray(0, this.pos), offset);
  }

  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    // int64, two's complement for negatives (protobuf's int64 varint is ten bytes then).
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 0x100000000) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const len = s.length;
    if (len <= SHORT_STRING) {
      // Short ASCII strings (keys, names, ids) are copied in JS: cheaper than a call into the
      // native encoder for a few bytes. Anything else goes through it.
      this.ensure(1 + 3 * len);
      const buf = this.buf;
      const at = this.pos;
      let p = at + 1;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          p = -1;
          break;
        }
        buf[p++] = c;
      }
      if (p < 0) p = at + 1 + buf.write(s, at + 1, 'utf8');
      buf[at] = p - at - 1;
      this.pos = p;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  /** Bytes given as hex (trace and span ids). */
  hex(h: string): void {
    const n = h.length >>> 1;
    this.varint(n);
    this.ensure(n);
    // Ids are 16 or 32 hex digits: decoded in JS, cheaper than a call into the native decoder.
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const high = hexDigit(h.charCodeAt(2 * i));
      const low = hexDigit(h.charCodeAt(2 * i + 1));
      if (high < 0 || low < 0) {
        // Not hex: whatever the native decoder makes of it (it stops at the first bad pair).
        this.pos += buf.write(h, this.pos, n, 'hex');
        return;
      }
      buf[p++] = (high << 4) | low;
    }
    this.pos = p;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Starts a length-delimited message: returns where its length goes. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the message begun at `at`, writing its length (moving its bytes if the length needs more than a byte). */
  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const size = len < 0x4000 ? 2 : len < 0x200000 ? 3 : len < 0x10000000 ? 4 : 5;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  /** A performance.now() time as fixed64 Unix nanoseconds. */
  time(clock: Clock, ms: number): void {
    const [seconds, nanos] = unixTime(clock, ms);
    // seconds × 1e9 + nanos as two 32-bit halves without leaving the safe-integer range.
    const lowPart = (seconds & 0xffff) * 1e9;
    const highPart = Math.floor(seconds / 0x10000) * 1e9;
    const low = (lowPart >>> 0) + (((highPart & 0xffff) * 0x10000) >>> 0) + nanos;
    const high = Math.floor(lowPart / 0x100000000) + Math.floor(highPart / 0x10000) + Math.floor(low / 0x100000000);
    this.fixed64(low >>> 0, high >>> 0);
  }

  /** Bytes as they are (an already encoded part). */
  raw(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    if (n > 64) {
      this.buf.set(b, this.pos);
      this.pos += n;
      return;
    }
    // A few bytes (an attribute key): copied in JS, cheaper than the call into set().
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = b[i] as number;
    this.pos = p;
  }
}

/** performance.timeOrigin split into whole seconds and nanoseconds, so span times stay exact to the nanosecond. */
export interface Clock {
  readonly originSeconds: number;
  readonly originNanos: number;
}

export function clockOf(timeOrigin: number): Clock {
  const originSeconds = Math.floor(timeOrigin / 1000);
  return { originSeconds, originNanos: Math.round((timeOrigin - originSeconds * 1000) * 1e6) };
}

/** A performance.now() time as Unix [seconds, nanoseconds] (kept apart, so exact to the nanosecond). */
export function unixTime(clock: Clock, ms: number): [number, number] {
  let nanos = clock.originNanos + Math.round(ms * 1e6);
  const carry = Math.floor(nanos / 1e9);
  nanos -= carry * 1e9;
  return [clock.originSeconds + carry, nanos];
}

function writeAnyValue(w: ProtoWriter, value: AttributeValue | Uint8Array): void {
  if (typeof value === 'string') {
    w.tag(1, 2);
    w.string(value);
  } else if (typeof value === 'boolean') {
    w.tag(2, 0);
    w.varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
      w.tag(3, 0);
      w.varint(value);
    } else {
      w.tag(4, 1);
      w.double(value);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, 2);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, 2);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, 2);
      const at = w.begin();
      // An array attribute holds primitives or nulls; a null is an empty AnyValue.
      if (item !== null && item !== undefined) writeAnyValue(w, item);
      w.end(at);
    }
    w.end(array);
  }
}

/** Distinct attribute keys whose encoding is kept (the data plane writes a few dozen). */
const MAX_KEY_HEADS = 1024;
/** Per key, the start of its KeyValue: the key field (1) and the value's tag (2), encoded once. */
const keyHeads = new Map<string, Uint8Array>();

function keyHead(key: string): Uint8Array {
  let head = keyHeads.get(key);
  if (head !== undefined) return head;
  const bytes = Buffer.from(key, 'utf8');
  const parts = [0x0a];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n <= 0x7f) {
      parts.push(n);
      break;
    }
    parts.push((n & 0x7f) | 0x80);
  }
  head = new Uint8Array(parts.length + bytes.length + 1);
  head.set(parts, 0);
  head.set(bytes, parts.length);
  head[head.length - 1] = 0x12;
  if (keyHeads.size < MAX_KEY_HEADS) keyHeads.set(key, head);
  return head;
}

function writeKeyValue(w: ProtoWriter, field: number, key: string, value: AttributeValue): void {
  w.tag(field, 2);
  const kv = w.begin();
  w.raw(keyHead(key));
  const v = w.begin();
  writeAnyValue(w, value);
  w.end(v);
  w.end(kv);
}

/** Span attribute encodings kept, over all keys: a bound on the memory they take. */
const MAX_KEPT_ATTRIBUTES = 2048;
/** Distinct values kept per key; a key with more (request ids, token counts) is written afresh every time. */
const MAX_VALUES_PER_KEY = 32;
/** Longest string value whose encoding is kept. */
const MAX_KEPT_STRING = 64;
/** A key's kept encodings: its last value's first (most keys have one value), then the others. */
interface KeptValues {
  lastValue: string | number | boolean;
  lastBytes: Uint8Array;
  readonly byValue: Map<string | number | boolean, Uint8Array>;
}
/** Per key, per value: the span attribute's whole KeyValue (field 9) as writeKeyValue writes it; null for a key whose values vary. */
const spanAttributes = new Map<string, KeptValues | null>();
let keptAttributes = 0;

/**
 * A span attribute. Most values repeat from request to request (the operation, route, model,
 * provider, status, caller), so the encoding of a key's first few string, boolean or integer
 * values is kept and copied as it is the next time.
 */
function writeSpanAttribute(w: ProtoWriter, key: string, value: AttributeValue): void {
  const kept = spanAttributes.get(key);
  if (kept !== undefined && kept !== null && kept.lastValue === value) {
    w.raw(kept.lastBytes);
    return;
  }
  const t = typeof value;
  if (kept === null || t === 'object' || (t === 'string' && (value as string).length > MAX_KEPT_STRING) || (t === 'number' && !Number.isInteger(value))) {
    writeKeyValue(w, 9, key, value);
    return;
  }
  const primitive = value as string | number | boolean;
  const bytes = kept?.byValue.get(primitive);
  if (bytes !== undefined && kept !== undefined) {
    kept.lastValue = primitive;
    kept.lastBytes = bytes;
    w.raw(bytes);
    return;
  }
  const from = w.pos;
  writeKeyValue(w, 9, key, value);
  if (kept !== undefined && kept.byValue.size >= MAX_VALUES_PER_KEY) {
    // Values that vary: stop keeping them (and looking them up) for this key.
    keptAttributes -= kept.byValue.size;
    spanAttributes.set(key, null);
    return;
  }
  if (keptAttributes >= MAX_KEPT_ATTRIBUTES || (kept === undefined && spanAttributes.size >= MAX_KEY_HEADS)) return;
  keptAttributes++;
  const encoded = w.copyFrom(from);
  if (kept === undefined) spanAttributes.set(key, { lastValue: primitive, lastBytes: encoded, byValue: new Map([[primitive, encoded]]) });
  else {
    kept.byValue.set(primitive, encoded);
    kept.lastValue = primitive;
    kept.lastBytes = encoded;
  }
}

function writeAttributes(w: ProtoWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) writeKeyValue(w, field, key, value);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean): number {
  return (traceFlags & 0xff) | SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE | (isRemote ? SPAN_FLAGS_CONTEXT_IS_REMOTE : 0);
}

/** trace_id (1), span_id (2) and trace_state (3): the same fields in a Span and in a Link. */
function writeContext(w: ProtoWriter, traceId: string, spanId: string, traceStateText: string): void {
  w.tag(1, 2);
  w.hex(traceId);
  w.tag(2, 2);
  w.hex(spanId);
  if (traceStateText !== '') {
    w.tag(3, 2);
    w.string(traceStateText);
  }
}

function writeSpan(w: ProtoWriter, clock: Clock, span: EncodableSpan): void {
  writeContext(w, span.traceId, span.spanId, span.traceStateText);
  if (span.parentSpanId !== undefined && span.parentSpanId !== '') {
    w.tag(4, 2);
    w.hex(span.parentSpanId);
  }
  w.tag(5, 2);
  w.string(span.name);
  // OTLP's kind is the API's plus one (0 is "unspecified").
  w.tag(6, 0);
  w.varint(span.kind + 1);
  w.tag(7, 1);
  w.time(clock, span.startMs);
  w.tag(8, 1);
  w.time(clock, span.endMs);
  const keys = span.attributeKeys;
  const values = span.attributeValues;
  for (let i = 0; i < keys.length; i++) writeSpanAttribute(w, keys[i] as string, values[i] as AttributeValue);
  w.tag(10, 0);
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, 2);
    const at = w.begin();
    w.tag(1, 1);
    w.time(clock, event.atMs);
    w.tag(2, 2);
    w.string(event.name);
    if (event.attributes !== undefined) writeAttributes(w, event.attributes, 3);
    w.tag(4, 0);
    w.varint(0);
    w.end(at);
  }
  w.tag(12, 0);
  w.varint(span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, 2);
    const at = w.begin();
    writeContext(w, link.traceId, link.spanId, link.traceStateText);
    if (link.attributes !== undefined) writeAttributes(w, link.attributes, 4);
    w.tag(5, 0);
    w.varint(0);
    w.tag(6, 5);
    w.fixed32(spanFlags(link.traceFlags, link.isRemote));
    w.end(at);
  }
  w.tag(14, 0);
  w.varint(0);
  w.tag(15, 2);
  const status = w.begin();
  if (span.statusMessage !== undefined && span.statusMessage !== '') {
    w.tag(2, 2);
    w.string(span.statusMessage);
  }
  w.tag(3, 0);
  w.varint(span.statusCode);
  w.end(status);
  w.tag(16, 5);
  w.fixed32(spanFlags(span.traceFlags, span.parentIsRemote));
}

export interface EncoderScope {
  /** The Resource's attributes (service.name, host, process, OTEL_RESOURCE_ATTRIBUTES). */
  resource: Attributes;
  scopeName: string;
  scopeVersion: string;
}

/**
 * Spans encoded as they end: their ScopeSpans.spans entries, one after another in one growing
 * buffer, and how many. A batch waiting for its export holds these bytes instead of the span
 * objects, so a span dies young (while queued for up to a few hundred requests it would survive
 * scavenges and be copied and promoted, the GC's most expensive kind of object).
 */
export class EncodedSpans {
  private readonly w = new ProtoWriter();
  count = 0;

  constructor(private readonly clock: Clock) {}

  add(span: EncodableSpan): void {
    const w = this.w;
    const from = w.pos;
    try {
      w.tag(2, 2);
      const at = w.begin();
      writeSpan(w, this.clock, span);
      w.end(at);
    } catch (err) {
      // Nothing of a span that could not be encoded stays in the batch.
      w.pos = from;
      throw err;
    }
    this.count++;
  }

  get byteLength(): number {
    return this.w.pos;
  }

  copyTo(target: Uint8Array, offset: number): void {
    this.w.copyTo(target, offset);
  }

  /** Empty again, keeping the buffer for the next batch. */
  reset(): void {
    this.w.reset();
    this.count = 0;
  }
}

function varintSize(n: number): number {
  let size = 1;
  for (let v = n; v > 0x7f; v = Math.floor(v / 128)) size++;
  return size;
}

function writeVarintAt(target: Uint8Array, offset: number, n: number): number {
  let v = n;
  let p = offset;
  while (v > 0x7f) {
    target[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  target[p++] = v;
  return p;
}

/**
 * Encodes spans as one OTLP ExportTraceServiceRequest (protobuf), field for field what
 * @opentelemetry/otlp-transformer writes for the same spans (otlp-span-encoder.test.ts compares the
 * bytes). The resource and scope are encoded once; the spans come already encoded (EncodedSpans).
 */
export class OtlpSpanEncoder {
  /** ResourceSpans.resource (1): the same for every export. */
  private readonly head: Uint8Array;
  /** ScopeSpans.scope (1): the same for every export. */
  private readonly scopeHead: Uint8Array;

  constructor(
    scope: EncoderScope,
    private readonly clock: Clock,
  ) {
    const w = new ProtoWriter();
    w.tag(1, 2);
    const resource = w.begin();
    writeAttributes(w, scope.resource, 1);
    w.tag(2, 0);
    w.varint(0);
    w.end(resource);
    this.head = w.finish();
    w.reset();
    w.tag(1, 2);
    const scopeAt = w.begin();
    w.tag(1, 2);
    w.string(scope.scopeName);
    if (scope.scopeVersion !== '') {
      w.tag(2, 2);
      w.string(scope.scopeVersion);
    }
    w.end(scopeAt);
    this.scopeHead = w.finish();
  }

  /** The request for spans encoded as they ended. */
  frame(spans: EncodedSpans): Uint8Array {
    const scopeSpansLength = this.scopeHead.length + spans.byteLength;
    const resourceSpansLength = this.head.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength;
    const out = new Uint8Array(1 + varintSize(resourceSpansLength) + resourceSpansLength);
    // ExportTraceServiceRequest.resource_spans (1) → ResourceSpans.scope_spans (2) → the spans.
    out[0] = 0x0a;
    let p = writeVarintAt(out, 1, resourceSpansLength);
    out.set(this.head, p);
    p += this.head.length;
    out[p++] = 0x12;
    p = writeVarintAt(out, p, scopeSpansLength);
    out.set(this.scopeHead, p);
    p += this.scopeHead.length;
    spans.copyTo(out, p);
    return out;
  }

  encode(spans: readonly EncodableSpan[]): Uint8Array {
    const encoded = new EncodedSpans(this.clock);
    for (const span of spans) encoded.add(span);
    return this.frame(encoded);
  }
}
