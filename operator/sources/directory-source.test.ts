import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectorySource } from './directory-source.js';
import type { LoadResult } from './manifest-loader.js';

const route = (model: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: r }
spec:
  model: ${model}
  targets: [{ providerRef: { name: p }, model: m }]
`;

describe('DirectorySource on one file (tollgate dev -f routes.yaml)', () => {
  it('loads the file, and reloads it when an editor saves it by rename, ignoring its neighbours', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-source-'));
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, route('first'));
    writeFileSync(join(dir, 'other.yaml'), route('neighbour'));
    const loads: LoadResult[] = [];
    const source = new DirectorySource(file, (r) => loads.push(r), 20);
    try {
      expect(source.start().input.routes.map((r) => r.spec.model)).toEqual(['first']);
      for (const model of ['second', 'third']) {
        writeFileSync(join(dir, '.routes.yaml.swp'), route(model));
        renameSync(join(dir, '.routes.yaml.swp'), file);
        const deadline = Date.now() + 5_000;
        while (loads.at(-1)?.input.routes[0]?.spec.model !== model && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(loads.at(-1)?.input.routes.map((r) => r.spec.model)).toEqual([model]);
      }
    } finally {
      source.stop();
    }
  });
});
