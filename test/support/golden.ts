import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';

/** UPDATE_GOLDEN=1 rewrites the expected files instead of comparing (see test/README.md). */
export const UPDATING_GOLDEN = process.env.UPDATE_GOLDEN === '1';

/** Compares `actual` (as pretty JSON) with the golden file at `path`, or writes it when updating. */
export function expectGolden(path: string, actual: unknown): void {
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (UPDATING_GOLDEN) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`golden file ${path} is missing: run with UPDATE_GOLDEN=1 to write it, then review it`);
  }
  expect(text).toBe(expected);
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}
