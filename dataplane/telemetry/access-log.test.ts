import { type DestinationStream, type LoggerOptions, pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessLog, LineFields } from './access-log.js';

const strings = ['plain', '', 'with "quotes" and \\ a backslash', 'a\u0001control\ncharacter', 'ünïcödé ✓ 😀', 'x'.repeat(150), '"'.repeat(120)];
const numbers = [0, -0, 1.5, 116.894, -3, 1e21, Number.NaN, Number.POSITIVE_INFINITY];
const objects = [{ result: 'admitted' }, [{ policy: 'p', rule: 'r', action: 'Mask', findings: { Email: 2 } }], { policy: 'd', mode: 'Redacted', recorded: true, note: 'a "b"' }];

/** Field sets covering every kind of value the access log writes, undefined ones included. */
function lines(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < 12; i++) {
    out.push({
      requestId: strings[i % strings.length],
      method: i % 3 === 0 ? undefined : 'POST',
      status: numbers[i % numbers.length],
      completed: i % 2 === 0,
      caller: i % 4 === 0 ? undefined : strings[(i + 2) % strings.length],
      admission: i % 5 === 0 ? undefined : objects[i % objects.length],
      cacheHit: i % 3 === 1 ? undefined : i % 2 === 1,
      traceId: strings[(i + 4) % strings.length],
    });
  }
  return out;
}

function fill(fields: LineFields, line: Record<string, unknown>): LineFields {
  for (const [key, value] of Object.entries(line)) {
    if (typeof value === 'string') fields.str(key, value);
    else if (typeof value === 'number') fields.num(key, value);
    else if (typeof value === 'boolean') fields.bool(key, value);
    else fields.json(key, value);
  }
  return fields;
}

/** Each line through `logger.info` and through the access log: the same text, or the same nothing. Whether it wrote directly. */
function compare(options: LoggerOptions, child?: Record<string, unknown>): boolean {
  const written: string[] = [];
  const dest: DestinationStream = { write: (s: string) => written.push(s) };
  const root = pino(options, dest);
  const logger = child === undefined ? root : root.child(child);
  const log = accessLog(logger);
  for (const line of lines()) {
    logger.info(line, 'request');
    const byPino = written.splice(0);
    log.write(fill(log.fields(), line));
    expect(written.splice(0)).toEqual(byPino);
  }
  return log.fields().values === undefined;
}

describe('accessLog', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes exactly the line pino writes for the same fields, whatever the logger is configured with', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1796468372314);
    // Written directly: the plain loggers (the CLI's is the first).
    expect(compare({ level: 'info' })).toBe(true);
    expect(compare({ level: 'debug' }, { component: 'gateway', n: 2 })).toBe(true);
    expect(compare({ base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } })).toBe(true);
    expect(compare({ name: 'tollgate', crlf: true })).toBe(true);
    // Below its level, nothing.
    expect(compare({ level: 'warn' })).toBe(true);
    // Through logger.info, so their configuration applies to the fields.
    for (const options of [
      { formatters: { log: (obj: Record<string, unknown>) => ({ ...obj, extra: 1 }) } },
      { redact: ['caller'] },
      { serializers: { status: (s: number) => `status ${s}` } },
      { mixin: () => ({ mixed: true }) },
      { messageKey: 'message' },
      { msgPrefix: '[gw] ' },
    ]) {
      expect(compare(options)).toBe(false);
    }
  });

  it('escapes U+2028 and U+2029 (line separators to some log shippers), in strings and in JSON values from outside', () => {
    const written: string[] = [];
    const log = accessLog(pino({ level: 'info' }, { write: (s: string) => written.push(s) }));
    const fields = log.fields();
    fields.str('path', '/v1/a\u2028b\u2029c');
    fields.outsideJson('guardrails', [{ categories: ['x\u2029y', 'z\u2028'] }]);
    fields.str('caller', 'plain');
    log.write(fields);
    const line = written.join('');
    expect(line).not.toMatch(/[\u2028\u2029]/);
    expect(line).toContain('"path":"/v1/a\\u2028b\\u2029c"');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.path).toBe('/v1/a\u2028b\u2029c');
    expect(parsed.guardrails).toEqual([{ categories: ['x\u2029y', 'z\u2028'] }]);
  });
});
