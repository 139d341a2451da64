import type { CaptureMode } from '../../config/data-policy-config.js';

/**
 * One capture record: the same shape in every destination, joined to access logs and traces by
 * requestId and traceId. `content` is present only in modes Redacted and Full.
 */
export interface CaptureRecord {
  schema: 'tollgate.capture.v1';
  requestId: string;
  traceId?: string;
  spanId?: string;
  /** When the request arrived (RFC 3339). */
  time: string;
  durationMs: number;
  /** The namespace the record is filed under: the caller's, else the route's. */
  namespace: string;
  caller: { kind: string; namespace?: string; name?: string };
  route?: string;
  rule?: string;
  provider?: string;
  model: string;
  upstreamModel?: string;
  stream: boolean;
  status: number;
  /** What the gateway did: served, or the stable error code it refused with. */
  decision: string;
  tokens?: { input: number; output: number; cached: number };
  costUsd?: number;
  policy: { id: string; mode: CaptureMode; optedOut?: true };
  content?: CaptureContent;
}

export interface CaptureContent {
  /** The request's messages (and tools), as the client sent them after redaction. */
  request?: unknown;
  /** The response; a stream's assembled result. */
  response?: unknown;
  /** Matches replaced, by type (Redacted); with `truncated`, those up to where redaction stopped (the end of the first string past maxRecordBytes). */
  redactions?: Record<string, number>;
  /** Content longer than maxRecordBytes was cut: `request`/`response` then hold the cut JSON text. */
  truncated?: true;
  /** A detector cap was reached: the rest of some text was dropped as [UNSCANNED]. */
  unscanned?: true;
}

/** What the request path knows about a finished request, before the policy shapes it into a record. */
export interface CaptureInput {
  requestId: string;
  traceId?: string;
  spanId?: string;
  startedAtMs: number;
  durationMs: number;
  caller: { kind: string; namespace?: string; name?: string };
  routeId?: string;
  routeNamespace?: string;
  rule?: string;
  provider?: string;
  model: string;
  upstreamModel?: string;
  stream: boolean;
  status: number;
  decision: string;
  tokens?: { input: number; output: number; cached: number };
  costUsd?: number;
  /** The canonical request body. */
  requestBody: Record<string, unknown>;
  /** The canonical response body, or a stream's assembled result; absent when there was none. */
  response?: Record<string, unknown>;
}

/**
 * A record as it waits in the capture queues and reaches every destination: serialised once, when
 * it is recorded, as the two JSON Lines the stores keep apart for their separate retention (the
 * metadata, and the content keyed by request id), UTF-8 in Buffers. Not object trees, not even
 * strings: the bytes live outside the JavaScript heap, so thousands of queued records give the
 * garbage collector nothing to trace or copy, and no destination serialises a record again.
 */
export interface SerialisedRecord {
  /** The writing policy's id, the namespace it is filed under, and when the request arrived (RFC 3339): what the stores partition by. */
  policyId: string;
  namespace: string;
  time: string;
  /** The record without `content`: one JSON line, newline included. */
  metadata: Buffer;
  /** `{"requestId","time","namespace","content"}`: one JSON line, newline included; absent when the record has no content. */
  content?: Buffer;
}

/** One JSON line as stored: the text and its newline, UTF-8. */
export const jsonLine = (json: string): Buffer => Buffer.from(`${json}\n`);

/** The stored form of a record shaped elsewhere (tests, tools); the capture service builds the same lines itself. */
export function serialiseRecord(record: CaptureRecord): SerialisedRecord {
  const { content, ...metadata } = record;
  const out: SerialisedRecord = { policyId: record.policy.id, namespace: record.namespace, time: record.time, metadata: jsonLine(JSON.stringify(metadata)) };
  if (content !== undefined) out.content = jsonLine(JSON.stringify({ requestId: record.requestId, time: record.time, namespace: record.namespace, content }));
  return out;
}

/** One record's content back from its content line (JSON text, newline or not). */
export const parseContentLine = (line: string): CaptureContent => (JSON.parse(line) as { content: CaptureContent }).content;

/** One record back from its lines (tests and tools; a destination's batch is parsed by line-batch.ts parseGroups). */
export function parseRecord(serialised: SerialisedRecord): CaptureRecord {
  const record = JSON.parse(serialised.metadata.toString()) as CaptureRecord;
  if (serialised.content !== undefined) record.content = parseContentLine(serialised.content.toString());
  return record;
}
