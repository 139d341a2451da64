import type { CaptureMode } from '../../config/data-policy-config.js';
import type { CaptureInput } from './capture-record.js';

/**
 * A record's metadata line (CaptureRecord without content, newline included), byte for byte what
 * JSON.stringify of that object writes, with its key order, built from parts that repeat across
 * requests: the constant keys, the caller's JSON per caller object, the policy's per policy and
 * mode, the time's date and second per second. Only what varies per request is stringified: this
 * runs on the request thread for every captured request, and one JSON.stringify of a fresh
 * twenty-key object cost several times as much (bench/results/capture-s9-2026-12-05.md).
 */
export function metadataLine(input: CaptureInput, time: string, namespace: string, policy: { id: string }, mode: Exclude<CaptureMode, 'None'>, optedOut: boolean): string {
  let line = `{"schema":"tollgate.capture.v1","requestId":${str(input.requestId)},"time":"${time}","durationMs":${num(input.durationMs)},"namespace":${str(namespace)},"caller":${callerJson(input.caller)},"model":${str(input.model)},"stream":${input.stream},"status":${num(input.status)},"decision":${str(input.decision)},"policy":${policyJson(policy, mode, optedOut)}`;
  if (input.traceId !== undefined) line += `,"traceId":${str(input.traceId)}`;
  if (input.spanId !== undefined) line += `,"spanId":${str(input.spanId)}`;
  if (input.routeId !== undefined) line += `,"route":${str(input.routeId)}`;
  if (input.rule !== undefined) line += `,"rule":${str(input.rule)}`;
  if (input.provider !== undefined) line += `,"provider":${str(input.provider)}`;
  if (input.upstreamModel !== undefined) line += `,"upstreamModel":${str(input.upstreamModel)}`;
  if (input.tokens !== undefined) line += `,"tokens":${tokensJson(input.tokens)}`;
  if (input.costUsd !== undefined) line += `,"costUsd":${num(input.costUsd)}`;
  return `${line}}\n`;
}

// JSON.stringify leaves a string without quotes, backslashes, control characters and surrogates
// (it escapes lone ones) as it is: such a string (request and trace ids, names) is written between
// quotes here, as one compiled regular expression test, instead of a call into the runtime's
// JSON serialiser per field (~10 per record, on the request thread).
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** A string as JSON.stringify writes it. */
export const str = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/** `tokens` as JSON.stringify writes the object the capture stage makes (these three keys, in this order); any other shape through JSON.stringify. */
function tokensJson(tokens: NonNullable<CaptureInput['tokens']>): string {
  const keys = Object.keys(tokens);
  if (keys.length !== 3 || keys[0] !== 'input' || keys[1] !== 'output' || keys[2] !== 'cached') return JSON.stringify(tokens);
  return `{"input":${num(tokens.input)},"output":${num(tokens.output)},"cached":${num(tokens.cached)}}`;
}

/** A number as JSON.stringify writes it (NaN and infinities as null). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

// The stage hands over one caller object per identity (capture.ts), so this is one lookup per request.
const callers = new WeakMap<object, string>();
function callerJson(caller: CaptureInput['caller']): string {
  let json = callers.get(caller);
  if (json === undefined) callers.set(caller, (json = JSON.stringify(caller)));
  return json;
}

const MODES = ['Metadata', 'Redacted', 'Full'] as const;
/** Per policy object: its `policy` field's JSON for each mode, opted out or not. */
const policies = new WeakMap<object, (string | undefined)[]>();
function policyJson(policy: { id: string }, mode: Exclude<CaptureMode, 'None'>, optedOut: boolean): string {
  let forPolicy = policies.get(policy);
  if (forPolicy === undefined) policies.set(policy, (forPolicy = []));
  const slot = MODES.indexOf(mode) * 2 + (optedOut ? 1 : 0);
  return (forPolicy[slot] ??= JSON.stringify({ id: policy.id, mode, ...(optedOut ? { optedOut: true } : {}) }));
}

const MAX_DATE_MS = 8.64e15;
let second = Number.NaN;
let secondPrefix = '';
/** `new Date(ms).toISOString()`, its date and second formatted once per second rather than per call. */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_DATE_MS) return new Date(ms).toISOString();
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    // Throws, as toISOString does, for a time outside the Date range.
    secondPrefix = new Date(s * 1000).toISOString().slice(0, -4);
    second = s;
  }
  const milli = ms - s * 1000;
  return `${secondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
