import type { CaptureMode, DataPolicyConfig } from '../../config/data-policy-config.js';
import type { DetectorSet } from '../detectors/index.js';
import { type CaptureInput, type CaptureRecord, jsonLine, type SerialisedRecord } from './capture-record.js';
import { redactedJson, type RedactionTally } from './redact-content.js';

/** What shaping a record needs of its policy: plain data, so that a worker thread can be given it too. */
export type SerialisePolicy = Pick<DataPolicyConfig, 'id' | 'mode' | 'parts' | 'maxRecordBytes' | 'redaction'>;

/** The capture a record is made under: its policy (with the detectors compiled from it) and the mode this request got. */
export interface SerialiseDecision {
  policy: { config: SerialisePolicy; detectors: DetectorSet | undefined };
  mode: Exclude<CaptureMode, 'None'>;
  optedOut: boolean;
}

/**
 * The record the decision allows, serialised once, here: the metadata line, and in modes Redacted
 * and Full the content line, its strings redacted on the way into the JSON text and its size capped
 * on that text. Every destination gets these lines; none sees the request's own objects.
 */
export function serialiseCapture(decision: SerialiseDecision, input: CaptureInput): SerialisedRecord {
  const { config, detectors } = decision.policy;
  const time = new Date(input.startedAtMs).toISOString();
  const namespace = input.caller.namespace ?? input.routeNamespace ?? 'none';
  const metadata: CaptureRecord = {
    schema: 'tollgate.capture.v1',
    requestId: input.requestId,
    time,
    durationMs: input.durationMs,
    namespace,
    caller: input.caller,
    model: input.model,
    stream: input.stream,
    status: input.status,
    decision: input.decision,
    policy: { id: config.id, mode: decision.mode, ...(decision.optedOut ? { optedOut: true as const } : {}) },
  };
  if (input.traceId !== undefined) metadata.traceId = input.traceId;
  if (input.spanId !== undefined) metadata.spanId = input.spanId;
  if (input.routeId !== undefined) metadata.route = input.routeId;
  if (input.rule !== undefined) metadata.rule = input.rule;
  if (input.provider !== undefined) metadata.provider = input.provider;
  if (input.upstreamModel !== undefined) metadata.upstreamModel = input.upstreamModel;
  if (input.tokens !== undefined) metadata.tokens = input.tokens;
  if (input.costUsd !== undefined) metadata.costUsd = input.costUsd;
  const out: SerialisedRecord = { policyId: config.id, namespace, time, metadata: jsonLine(JSON.stringify(metadata)) };
  if (decision.mode === 'Metadata') return out;
  // Redacted without detectors would be Full: refused (counted as record_error), never written unredacted.
  if (decision.mode === 'Redacted' && detectors === undefined) throw new Error(`policy ${config.id}: Redacted without compiled detectors`);
  const content = contentJson(input, config, decision.mode === 'Redacted' ? detectors : undefined);
  out.content = jsonLine(`{"requestId":${JSON.stringify(input.requestId)},"time":"${time}","namespace":${JSON.stringify(namespace)},"content":${content}}`);
  return out;
}

// The request's content fields: `instructions` and `input` as well, so a Responses request a target
// served natively is recorded as sent. The response's: `output` for a Response object from a target
// that served the Responses API natively.
const REQUEST_FIELDS = ['system', 'instructions', 'messages', 'prompt', 'input', 'tools'] as const;
const RESPONSE_FIELDS = ['choices', 'data', 'output'] as const;

/** The `content` object's JSON text (CaptureContent). */
function contentJson(input: CaptureInput, config: SerialisePolicy, detectors: DetectorSet | undefined): string {
  const tally: RedactionTally = { counts: {}, unscanned: false };
  let request = config.parts.request ? fieldsJson(input.requestBody, REQUEST_FIELDS, detectors, tally) : undefined;
  let response = config.parts.response && input.response !== undefined ? fieldsJson(input.response, RESPONSE_FIELDS, detectors, tally) : undefined;
  const truncated = !fits(request, response, config.maxRecordBytes);
  if (truncated) {
    const share = Math.floor(config.maxRecordBytes / (request !== undefined && response !== undefined ? 2 : 1));
    request = cut(request, share);
    response = cut(response, share);
  }
  let json = '';
  const add = (key: string, value: string): void => {
    json += `${json === '' ? '{' : ','}"${key}":${value}`;
  };
  if (request !== undefined) add('request', request);
  if (response !== undefined) add('response', response);
  if (detectors !== undefined) add('redactions', JSON.stringify(tally.counts));
  if (truncated) add('truncated', 'true');
  if (tally.unscanned) add('unscanned', 'true');
  return json === '' ? '{}' : `${json}}`;
}

/** `{"field":<redacted JSON>,...}` for the fields `source` has, in the order given. */
function fieldsJson(source: Record<string, unknown>, fields: readonly string[], detectors: DetectorSet | undefined, tally: RedactionTally): string {
  let json = '';
  for (const field of fields) {
    const value = source[field];
    if (value !== undefined) json += `${json === '' ? '{' : ','}"${field}":${redactedJson(value, detectors, tally)}`;
  }
  return json === '' ? '{}' : `${json}}`;
}

/** The parts fit in maxRecordBytes of UTF-8 (a UTF-16 code unit is at most 3 bytes: most records need no byte count). */
function fits(request: string | undefined, response: string | undefined, maxBytes: number): boolean {
  const units = (request?.length ?? 0) + (response?.length ?? 0);
  if (units * 3 <= maxBytes) return true;
  return (request === undefined ? 0 : Buffer.byteLength(request)) + (response === undefined ? 0 : Buffer.byteLength(response)) <= maxBytes;
}

/** A part over its share becomes its JSON text, cut at a character boundary within the share, as a JSON string. */
function cut(json: string | undefined, share: number): string | undefined {
  if (json === undefined || Buffer.byteLength(json) <= share) return json;
  let end = Math.min(json.length, share);
  while (end > 0 && Buffer.byteLength(json.slice(0, end)) > share) end = Math.floor(end * 0.9);
  return JSON.stringify(json.slice(0, end));
}
