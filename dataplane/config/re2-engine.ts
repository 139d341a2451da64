import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

let engine: typeof RE2JS | undefined;

/**
 * RE2JS, loaded at the first pattern compiled: most snapshots carry no header or custom content
 * pattern, and a process that never compiles one would hold the engine's ~0.6 MiB of heap for nothing.
 */
export function re2(): typeof RE2JS {
  engine ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return engine;
}
