import type { CaptureMode, DataPolicyConfig } from '../../config/data-policy-config.js';
import type { DetectorSet } from '../detectors/index.js';
import type { CaptureInput, SerialisedRecord } from './capture-record.js';
import { isoTime, metadataLine, str } from './metadata-line.js';
import { countsJson, redactJsonText, type RedactionTally } from './redact-content.js';

/** What shaping a record needs of its policy: plain data, so that a worker thread can be given it too. */
export type SerialisePolicy = Pick<DataPolicyConfig, 'id' | 'mode' | 'parts' | 'maxRecordBytes' | 'redaction'>;

/** The capture a record is made under: its policy (with the detectors compiled from it) and the mode this request got. */
export interface SerialiseDecision {
  policy: { config: SerialisePolicy; detectors: DetectorSet | undefined };
  mode: Exclude<CaptureMode, 'None'>;
  optedOut: boolean;
}

/**
 * A record as the request thread hands it on, every part JSON text already: the metadata line
 * (newline included), and with content the content line's start and the request's and response's
 * content fields exactly as the request has them (not yet redacted or capped). Strings only, so a
 * worker thread is given them as UTF-8 with no object to clone or parse.
 */
export interface RecordParts {
  policyId: string;
  namespace: string;
  time: string;
  mode: SerialiseDecision['mode'];
  metadata: string;
  /** `{"requestId":…,"time":…,"namespace":…,"content":`; '' in mode Metadata (then no content at all). */
  contentHead: string;
  /** The request's content fields (`{"messages":…}`), '' when the policy does not record them. */
  request: string;
  /** The response's content fields, '' when none are recorded. */
  response: string;
}

/**
 * The record the decision allows, serialised once, here: the metadata line, and in modes Redacted
 * and Full the content line, its strings redacted in the JSON text and its size capped on that
 * text. Every destination gets these lines; none sees the request's own objects.
 */
export function serialiseCapture(decision: SerialiseDecision, input: CaptureInput): SerialisedRecord {
  const parts = recordParts(decision, input);
  const out: SerialisedRecord = { policyId: parts.policyId, namespace: parts.namespace, time: parts.time, metadata: Buffer.from(parts.metadata) };
  const content = contentLine(parts, decision.policy);
  if (content !== undefined) out.content = Buffer.from(content);
  return out;
}

/** The namespace a record is filed under: the caller's, else the route's. */
export const recordNamespace = (input: Pick<CaptureInput, 'caller' | 'routeNamespace'>): string => input.caller.namespace ?? input.routeNamespace ?? 'none';

/** The request thread's share of a record: its JSON texts, with nothing redacted or capped yet (contentLine does that). */
export function recordParts(decision: SerialiseDecision, input: CaptureInput): RecordParts {
  const { config } = decision.policy;
  const time = isoTime(input.startedAtMs);
  const namespace = recordNamespace(input);
  const metadata = metadataLine(input, time, namespace, config, decision.mode, decision.optedOut);
  const parts: RecordParts = { policyId: config.id, namespace, time, mode: decision.mode, metadata, contentHead: '', request: '', response: '' };
  if (decision.mode === 'Metadata') return parts;
  parts.contentHead = `{"requestId":${str(input.requestId)},"time":"${time}","namespace":${str(namespace)},"content":`;
  if (config.parts.request) parts.request = requestFieldsJson(input.requestBody);
  if (config.parts.response && input.response !== undefined) parts.response = responseFieldsJson(input.response);
  return parts;
}

/**
 * The content line (newline included) of a record's parts: its strings redacted (Redacted) and
 * binary dropped, cut to maxRecordBytes; undefined in mode Metadata.
 */
export function contentLine(parts: RecordParts, policy: SerialiseDecision['policy']): string | undefined {
  const rest = contentLineRest(parts, policy);
  return rest === undefined ? undefined : `${parts.contentHead}${rest}`;
}

/**
 * The content line after its head (contentHead): what contentLine adds to it. The capture worker
 * has the head as UTF-8 already and copies those bytes rather than decode and encode them again.
 */
export function contentLineRest(parts: Pick<RecordParts, 'mode' | 'request' | 'response'>, policy: SerialiseDecision['policy']): string | undefined {
  const { config, detectors } = policy;
  if (parts.mode === 'Metadata') return undefined;
  // Redacted without detectors would be Full: refused (counted as record_error), never written unredacted.
  if (parts.mode === 'Redacted' && detectors === undefined) throw new Error(`policy ${config.id}: Redacted without compiled detectors`);
  return `${contentJson(parts, config, parts.mode === 'Redacted' ? detectors : undefined)}}\n`;
}

// The request's content fields: `instructions` and `input` as well, so a Responses request a target
// served natively is recorded as sent. The response's: `output` for a Response object from a target
// that served the Responses API natively. Read by name, each at its own site, not in a loop over a
// list of names: one keyed load site that sees nine names is megamorphic (a stub-cache lookup per
// read); a named load at its own site stays monomorphic for the one body shape.
export const REQUEST_FIELDS = ['system', 'instructions', 'messages', 'prompt', 'input', 'tools'] as const;
export const RESPONSE_FIELDS = ['choices', 'data', 'output'] as const;

/** `{"field":<JSON>,...}` of the request's content fields it has, in REQUEST_FIELDS' order (redacted later, as text). */
export function requestFieldsJson(body: Record<string, unknown>): string {
  let json = '';
  const { system, instructions, messages, prompt, input, tools } = body;
  if (system !== undefined) json = field(json, 'system', system);
  if (instructions !== undefined) json = field(json, 'instructions', instructions);
  if (messages !== undefined) json = field(json, 'messages', messages);
  if (prompt !== undefined) json = field(json, 'prompt', prompt);
  if (input !== undefined) json = field(json, 'input', input);
  if (tools !== undefined) json = field(json, 'tools', tools);
  return json === '' ? '{}' : `${json}}`;
}

/** The same for the response's content fields, in RESPONSE_FIELDS' order. */
export function responseFieldsJson(body: Record<string, unknown>): string {
  let json = '';
  const { choices, data, output } = body;
  if (choices !== undefined) json = field(json, 'choices', choices);
  if (data !== undefined) json = field(json, 'data', data);
  if (output !== undefined) json = field(json, 'output', output);
  return json === '' ? '{}' : `${json}}`;
}

const field = (json: string, name: string, value: unknown): string => `${json}${json === '' ? '{' : ','}"${name}":${JSON.stringify(value)}`;

/** The `content` object's JSON text (CaptureContent). */
function contentJson(parts: Pick<RecordParts, 'request' | 'response'>, config: SerialisePolicy, detectors: DetectorSet | undefined): string {
  const tally: RedactionTally = { counts: {}, unscanned: false };
  // A part whose redacted text runs past maxRecordBytes UTF-16 units is past as many bytes: the
  // record does not fit, and each part is cut within its share (at most maxRecordBytes), so the
  // redaction stops past it (redactJsonText's limit) rather than go through the rest of a huge prompt.
  const limit = config.maxRecordBytes;
  let request = parts.request === '' ? undefined : redactJsonText(parts.request, detectors, tally, limit);
  let response = parts.response === '' ? undefined : redactJsonText(parts.response, detectors, tally, limit);
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
  if (detectors !== undefined) add('redactions', countsJson(tally.counts));
  if (truncated) add('truncated', 'true');
  if (tally.unscanned) add('unscanned', 'true');
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
