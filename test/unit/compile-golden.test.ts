import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';

// Golden files: test/fixtures/compile/<case>.in.yaml → <case>.out.json. Regenerate with UPDATE_GOLDEN=1.
const dir = 'test/fixtures/compile';
const cases = readdirSync(dir).filter((f) => f.endsWith('.in.yaml')).map((f) => f.replace(/\.in\.yaml$/, ''));

describe('compile golden files', () => {
  it.each(cases)('%s', (name) => {
    const loaded = loadManifests([{ path: `${name}.in.yaml`, content: readFileSync(join(dir, `${name}.in.yaml`), 'utf8') }]);
    expect(loaded.errors).toEqual([]);
    const actual = `${JSON.stringify(compile(loaded.input), null, 2)}\n`;
    const goldenPath = join(dir, `${name}.out.json`);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenPath, actual);
    expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
  });
});
