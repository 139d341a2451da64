// `helm upgrade --reuse-values` keeps the previous chart's defaults in place of the new chart's
// (Helm replaces the chart's values with the old release's coalesced ones), so every value a chart
// version adds is missing: the upgrade failed on a nil pointer or rolled pods that stopped at start.
// The docs recommended it; they must name --reset-then-reuse-values instead.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const docs = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('upgrade instructions', () => {
  it('never suggest helm upgrade --reuse-values, and upgrade.md names --reset-then-reuse-values', () => {
    for (const path of docs) {
      const text = readFileSync(path, 'utf8');
      // Mentioned only to warn against it: "Not `--reuse-values`".
      const suggested = [...text.matchAll(/(.{0,12})--reuse-values/g)].filter((m) => !/Not `$/.test(m[1] ?? ''));
      expect(suggested.map((m) => m[0]), path).toEqual([]);
    }
    expect(readFileSync('docs/upgrade.md', 'utf8')).toContain('`--reset-then-reuse-values`');
  });

  // Helm creates the chart's CRDs, so the API server records it as the manager of their fields: a
  // server-side apply that changes them conflicts with "helm" (.spec.versions) unless forced.
  it('apply the CRDs server-side with --force-conflicts', () => {
    const text = readFileSync('docs/upgrade.md', 'utf8');
    const applies = [...text.matchAll(/kubectl apply --server-side[^\n|#]*/g)].map((m) => m[0]);
    expect(applies.length).toBeGreaterThan(0);
    for (const command of applies) expect(command).toContain('--force-conflicts');
  });
});
