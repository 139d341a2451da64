// Regenerates the files derived from crds/ and the chart (`make docs`); `--check` only reports
// which are stale and exits 1.
//   docs/configuration.md    from charts/tollgate/values.schema.json + values.yaml
//   docs/crd-reference.md    from crds/*.yaml
//   charts/tollgate/crds/    a copy of crds/*.yaml (Helm installs CRDs from the chart's crds/)
// Usage: npx tsx tools/gen-docs.ts [--check] [--crds <dir>]   (--crds: read the CRDs from another dir)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { renderConfigReference, type ValuesSchema } from './docs/config-reference.js';
import { renderCrdReference } from './docs/crd-reference.js';

export const CHART_DIR = 'charts/tollgate';

/** Every generated file: path and expected content, from the files in the repository. */
export function generatedFiles(crdDir = 'crds'): { path: string; content: string }[] {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as ValuesSchema;
  const values = yaml.load(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
  const crdFiles = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(crdDir, name), 'utf8') }));
  return [
    { path: 'docs/configuration.md', content: renderConfigReference(schema, values) },
    { path: 'docs/crd-reference.md', content: renderCrdReference(crdFiles.map((f) => ({ name: f.name, doc: yaml.load(f.text) }))) },
    ...crdFiles.map((f) => ({ path: join(CHART_DIR, 'crds', f.name), content: f.text })),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const crdsAt = args.indexOf('--crds');
  const crdDir = crdsAt === -1 ? 'crds' : (args[crdsAt + 1] ?? 'crds');
  let stale = 0;
  for (const file of generatedFiles(crdDir)) {
    let current = '';
    try {
      current = readFileSync(file.path, 'utf8');
    } catch {
      // missing: stale
    }
    if (current === file.content) continue;
    stale++;
    if (check) process.stderr.write(`${file.path} is stale: run make docs\n`);
    else {
      writeFileSync(file.path, file.content);
      process.stderr.write(`wrote ${file.path}\n`);
    }
  }
  if (check && stale > 0) process.exit(1);
}
