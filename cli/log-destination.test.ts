import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchedDestination, type LineWriter } from './log-destination.js';

function recorder(): LineWriter & { writes: string[]; held: string } {
  return {
    writes: [],
    held: '',
    write(text: string) {
      this.writes.push(text);
    },
    flushSync() {
      this.writes.push(`sync:${this.held}`);
      this.held = '';
    },
  };
}

describe('batchedDestination', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the lines of one batch in one write, in order, once the batch time is up', () => {
    vi.useFakeTimers();
    const out = recorder();
    const dest = batchedDestination(out, 20);
    dest.write('a\n');
    dest.write('b\n');
    vi.advanceTimersByTime(19);
    dest.write('c\n');
    expect(out.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(out.writes).toEqual(['a\nb\nc\n']);
    dest.write('d\n');
    vi.advanceTimersByTime(20);
    expect(out.writes).toEqual(['a\nb\nc\n', 'd\n']);
    vi.advanceTimersByTime(1000);
    expect(out.writes).toHaveLength(2);
  });

  it('at exit writes the writer\'s backlog first, then what is pending, synchronously', () => {
    const out = recorder();
    out.held = 'old\n';
    const dest = batchedDestination(out, 60_000);
    dest.write('new\n');
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-log-')), 'out.log');
    const fd = openSync(file, 'w');
    try {
      dest.flushSync(fd);
    } finally {
      closeSync(fd);
    }
    expect(out.writes).toEqual(['sync:old\n']);
    expect(readFileSync(file, 'utf8')).toBe('new\n');
  });
});
