import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The docs name ModelRoute fields exactly as the CRD spells them (issue 15: `retry.on` sent users
// looking for a field that does not exist).
const DOCS = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('field names in the docs', () => {
  it.each(DOCS)('%s says retry.retryOn, never retry.on', (file) => {
    expect(readFileSync(file, 'utf8')).not.toMatch(/`retry\.on`|\bretry\.on\b(?!\w)/);
  });

  it('the README says what tollgate dev reads, the body limit and the attempt timeout default', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toMatch(/`tollgate dev` reads[^]*`Secret`/);
    expect(readme).toMatch(/--max-body-bytes/);
    expect(readme).toMatch(/Without\s+`timeouts\.attempt` an attempt may use all of `total`/);
  });
});
