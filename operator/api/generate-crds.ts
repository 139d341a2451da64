// Writes crds/*.yaml from the zod schemas. Run with `make crds`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './crd-yaml.js';

const outDir = process.argv[2] ?? 'crds';
mkdirSync(outDir, { recursive: true });
for (const file of renderCrdFiles()) {
  writeFileSync(join(outDir, file.name), file.content);
  console.log(`wrote ${join(outDir, file.name)}`);
}
