import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every module a process loads stays in its heap for good: what `tollgate dev` or a data plane
 * needs only for a feature (the admin port, a pattern, tracing) is imported when that feature is
 * used, not at start. This checks the modules loaded at start: everything reachable from the CLI
 * through static imports that survive compilation (type-only imports are erased).
 */

/** Packages (or package files) that must not be loaded at start. */
const NOT_AT_START = [
  // the admin port and the console (dataplane/admin, operator/console): loaded with an admin port
  'express',
  // RE2: loaded at the first header or content pattern compiled (dataplane/config/re2-engine.ts)
  're2js',
  // its index loads all of it; the data plane needs one class at start (the W3C propagator)
  '@opentelemetry/core',
  // the SDK's samplers and processors: loaded when tracing starts (telemetry/lean-tracing.ts, otel-sdk.ts)
  '@opentelemetry/sdk-trace-base',
];

/** A relative import as a repository path of its TypeScript source. */
function resolveSource(from: string, spec: string): string {
  return normalize(join(dirname(from), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
}

/** The specifiers of a file's imports and re-exports that remain in the compiled JavaScript. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specs: string[] = [];
  for (const node of source.statements) {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const erased =
        clause !== undefined &&
        (clause.isTypeOnly || (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      if (!erased) specs.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      specs.push(node.moduleSpecifier.text);
    }
  }
  return specs;
}

/** Package specifiers loaded at start, each with the file that imports it. */
function packagesAtStart(entry: string): Map<string, string> {
  const found = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) {
        const target = resolveSource(file, spec);
        if (existsSync(target)) queue.push(target);
      } else if (!spec.startsWith('node:') && !found.has(spec)) {
        found.set(spec, file);
      }
    }
  }
  return found;
}

describe('modules loaded at start', () => {
  it('the CLI loads no feature-only package before the feature is used (express, re2js, the whole of @opentelemetry/core, the trace SDK)', () => {
    const loaded = packagesAtStart('cli/tollgate.ts');
    // The walk itself works: packages every start needs are found.
    expect([...loaded.keys()]).toEqual(expect.arrayContaining(['undici', 'zod', 'pino']));
    const early = [...loaded].filter(([spec]) => NOT_AT_START.includes(spec)).map(([spec, by]) => `${spec} (imported by ${by})`);
    expect(early).toEqual([]);
  });
});
