// The generated references in docs/ match their sources, and the troubleshooting page covers every
// condition reason the operator can write.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../tools/gen-docs.js';

/** Every reason string the compile step and the reconciler put into a condition. */
function reasonsInSource(): string[] {
  const dirs = ['operator/compile', 'operator/controller'];
  const reasons = new Set<string>();
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/reason:\s*'([A-Z][A-Za-z]+)'/g)) reasons.add(m[1] ?? '');
      // condition('Accepted', false, 'Conflicted', ...)
      for (const m of text.matchAll(/condition\(\s*'[A-Za-z]+',\s*(?:true|false),\s*'([A-Z][A-Za-z]+)'/g)) reasons.add(m[1] ?? '');
    }
  }
  return [...reasons].sort();
}

describe('docs', () => {
  it.each(generatedFiles().filter((f) => f.path.startsWith('docs/')).map((f) => [f.path, f.content]))('%s is up to date (run `make docs` when this fails)', (path, content) => {
    expect(readFileSync(path, 'utf8')).toBe(content);
  });

  it('troubleshooting.md explains every condition reason the operator writes', () => {
    const page = readFileSync('docs/troubleshooting.md', 'utf8');
    const reasons = reasonsInSource();
    // The extraction itself works: these are known reasons.
    expect(reasons).toEqual(expect.arrayContaining(['Conflicted', 'ProviderNotFound', 'SecretNotFound', 'NoDataPlanes', 'Pending']));
    const missing = reasons.filter((r) => !page.includes(`### \`${r}\``));
    expect(missing, 'reasons without a "### `Reason`" section in docs/troubleshooting.md').toEqual([]);
  });
});
