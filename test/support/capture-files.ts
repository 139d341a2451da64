import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every JSON line of every .jsonl file below `root` (a local-directory capture destination), recursively. */
export function jsonLines(root: string): Record<string, unknown>[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(root, f), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
}

/** A ModelRoute `name` for public model `model`, served by the Provider `up` (openAiProvider). */
export function upRoute(name: string, model: string = name): string {
  return `---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${model}
  targets: [{ providerRef: { name: up }, model: up-model }]
`;
}
