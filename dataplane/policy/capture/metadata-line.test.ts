import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import type { CaptureMode } from '../../config/data-policy-config.js';
import type { CaptureInput, CaptureRecord } from './capture-record.js';
import { isoTime, metadataLine, str } from './metadata-line.js';

type Mode = Exclude<CaptureMode, 'None'>;

/** The metadata line as recordParts built it before (session 8): one object, one JSON.stringify. */
function objectLine(input: CaptureInput, policy: { id: string }, mode: Mode, optedOut: boolean): string {
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
    policy: { id: policy.id, mode, ...(optedOut ? { optedOut: true as const } : {}) },
  };
  if (input.traceId !== undefined) metadata.traceId = input.traceId;
  if (input.spanId !== undefined) metadata.spanId = input.spanId;
  if (input.routeId !== undefined) metadata.route = input.routeId;
  if (input.rule !== undefined) metadata.rule = input.rule;
  if (input.provider !== undefined) metadata.provider = input.provider;
  if (input.upstreamModel !== undefined) metadata.upstreamModel = input.upstreamModel;
  if (input.tokens !== undefined) metadata.tokens = input.tokens;
  if (input.costUsd !== undefined) metadata.costUsd = input.costUsd;
  return `${JSON.stringify(metadata)}\n`;
}

// Strings that JSON escapes, or nearly: quotes, backslashes, controls, U+2028, a lone surrogate, astral and CJK text.
const PIECES = ['a', 'team-a/chat', '"', '\\', '\\"', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', '\ud83d\ude00x', '😀', '漢字', 'é', '</script>', ' ', ':', ','];
const NUMBERS = [0, -0, 1, 12, 999, 1234.5, 0.1 + 0.2, 1e21, 1e-7, -3, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
// Around second, minute, day and year boundaries, the epoch, before it, and far out (years past 9999, before 0).
const TIMES = [0, -1, 999, 1000, 1001, Date.parse('2026-12-31T23:59:59.999Z'), Date.parse('2027-01-01T00:00:00.000Z'), Date.parse('2026-12-05T03:04:05.010Z'), -62198755200000, 253402300800000, 8.64e15, -8.64e15, 1.5];

describe('the metadata line from cached parts', () => {
  it('is byte for byte what JSON.stringify of the record object writes, over 2,000 generated inputs', () => {
    const random = seededRandom(16);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const text = (): string => Array.from({ length: Math.floor(random() * 6) }, () => pick(PIECES)).join('');
    const maybe = <T>(make: () => T): T | undefined => (random() < 0.5 ? make() : undefined);
    const callers = [{ kind: 'anonymous' }, { kind: 'serviceaccount', namespace: 'team-a', name: 'app' }, { kind: 'apikey', namespace: 'n"s', name: '😀' }, { kind: 'apikey', name: 'x' }];
    const policies = [{ id: 'team-a/audit' }, { id: 'we"ird\\id' }];
    for (let i = 0; i < 2000; i++) {
      const input: CaptureInput = {
        requestId: text(),
        startedAtMs: random() < 0.3 ? pick(TIMES) : Date.parse('2026-12-05T00:00:00Z') + Math.floor(random() * 3_600_000 * 48),
        durationMs: pick(NUMBERS),
        caller: pick(callers),
        model: text(),
        stream: random() < 0.5,
        status: pick([200, 429, 499, 500, ...NUMBERS]),
        decision: text(),
        requestBody: {},
      };
      const routeNamespace = maybe(text);
      if (routeNamespace !== undefined) input.routeNamespace = routeNamespace;
      for (const key of ['traceId', 'spanId', 'routeId', 'rule', 'provider', 'upstreamModel'] as const) {
        const value = maybe(text);
        if (value !== undefined) input[key] = value;
      }
      if (random() < 0.5) {
        const [a, b, c] = [pick(NUMBERS), pick(NUMBERS), pick(NUMBERS)];
        // The stage's shape, and others that take JSON.stringify's path (other key order, a key more or less).
        const shapes = [{ input: a, output: b, cached: c }, { output: b, input: a, cached: c }, { input: a, output: b, cached: c, extra: 1 }, { input: a, output: b }];
        input.tokens = (random() < 0.7 ? shapes[0] : pick(shapes)) as CaptureInput['tokens'];
      }
      if (random() < 0.5) input.costUsd = pick(NUMBERS);
      const mode = pick(['Metadata', 'Redacted', 'Full'] as const);
      const optedOut = random() < 0.3;
      const policy = pick(policies);
      const time = isoTime(input.startedAtMs);
      expect(time).toBe(new Date(input.startedAtMs).toISOString());
      const namespace = input.caller.namespace ?? input.routeNamespace ?? 'none';
      expect(metadataLine(input, time, namespace, policy, mode, optedOut)).toBe(objectLine(input, policy, mode, optedOut));
    }
  });

  it('writes any string as JSON.stringify does (request ids and namespaces of the content line as well)', () => {
    const random = seededRandom(17);
    for (const piece of PIECES) expect(str(piece)).toBe(JSON.stringify(piece));
    for (let i = 0; i < 5000; i++) {
      // Code units drawn from ASCII, controls, Latin-1, the BMP and both surrogate halves.
      const units = Array.from({ length: Math.floor(random() * 12) }, () => {
        const r = random();
        return r < 0.5 ? 0x20 + Math.floor(random() * 0x5f) : r < 0.6 ? Math.floor(random() * 0x20) : r < 0.7 ? 0x80 + Math.floor(random() * 0x80) : r < 0.85 ? 0xd800 + Math.floor(random() * 0x800) : Math.floor(random() * 0x10000);
      });
      const text = String.fromCharCode(...units);
      expect(str(text)).toBe(JSON.stringify(text));
    }
  });

  it('throws for a time outside the Date range, as toISOString does', () => {
    for (const ms of [8.64e15 + 1, -8.64e15 - 1, Number.NaN]) expect(() => isoTime(ms)).toThrow(RangeError);
  });
});
