import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { throttledWarning } from './throttled-warning.js';

describe('throttledWarning', () => {
  it('says a failure at most once per interval per operation, with how many it did not say', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    let now = 0;
    const warn = throttledWarning(logger, 'response cache failed', 10_000, () => now);
    for (let i = 0; i < 100; i++) warn(new Error('Redis is not connected'), 'get');
    warn(new Error('OOM'), 'set');
    now = 9_999;
    warn(new Error('Redis is not connected'), 'get');
    now = 10_000;
    warn(new Error('Redis is not connected'), 'get');
    expect(lines.map((l) => [l.msg, l.op, l.err, l.suppressed])).toEqual([
      ['response cache failed', 'get', 'Redis is not connected', undefined],
      ['response cache failed', 'set', 'OOM', undefined],
      ['response cache failed', 'get', 'Redis is not connected', 100],
    ]);
  });
});
