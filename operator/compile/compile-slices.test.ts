// The operator compiles in slices (compileSteps, driven by runSliced): one compile of 5,000 routes
// held its event loop 0.4–1.0 s, the loop that renews the Lease and answers pulls and probes. The
// sliced compile must give the same output as compile: the hashes below were taken from compile
// before it was written as steps (a large generated config, and one over its snapshot budget).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { wireJson } from '../../dataplane/config/secret-value.js';
import { runSliced } from '../../dataplane/config/sliced.js';
import { bigInput } from '../../test/support/snapshot-scale.js';
import { compile, compileSteps } from './compile.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('compile in slices', () => {
  it('gives the output compile gave before it was written as steps, and yields once per route, API key, Budget and object sized and hashed', async () => {
    const input = bigInput(2000);
    let pauses = 0;
    const sliced = await runSliced(compileSteps(input), { sliceMs: 0, pause: async () => void pauses++ });
    expect(sliced.snapshot.version).toBe('0ef6adc7b217b92b');
    expect(sha(wireJson(sliced))).toBe('41dae640bb3a4bc95f485b152519f97e163d34de6da734089361ce14da2b8184');
    expect(wireJson(compile(input))).toBe(wireJson(sliced));
    // Routes compiled, API keys digested, Budgets compiled, objects sized and hashed one by one: the
    // loop is given back between them.
    const items = Object.values(sliced.snapshot).reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 0), 0);
    expect(pauses).toBeGreaterThanOrEqual(input.routes.length + input.secrets.length + input.budgets.length + 2 * items);
  }, 60_000);

  it('gives the same output when objects are left out of an oversized snapshot (routes compiled again)', async () => {
    const input = { ...bigInput(400, 100), snapshotBudgetBytes: 300_000 };
    const sliced = await runSliced(compileSteps(input), { sliceMs: 0, pause: async () => undefined });
    expect(sliced.snapshot.routes).toHaveLength(209);
    expect(sliced.snapshot.version).toBe('cc6ce611f30d8402');
    expect(sha(wireJson(sliced))).toBe('fd7adcbfb2ccfc66f6a60b93cffd80b7f1ca2998491e576d40379a46c0df6a2c');
  }, 60_000);
});
