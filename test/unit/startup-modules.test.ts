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
  // its index loads fetch, WebSocket, the caches and mocks too: Tollgate takes its parts from
  // dataplane/config/undici.ts (whose undici.test.ts checks, in a process, that the index stays unloaded)
  'undici',
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

/** Package specifiers loaded at start, each with the file that imports it; `seen` collects the repository's own files. */
function packagesAtStart(entry: string, seen = new Set<string>()): Map<string, string> {
  const found = new Map<string, string>();
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

/**
 * Where a file uses Intl while it loads (outside any function body): the first Intl formatter or
 * collator reads ICU data out of the node binary, pages that then stay in the process's RSS
 * (~4 MiB for a NumberFormat, bench/results/native-memory-s8-2026-12-05.md).
 */
function intlAtLoad(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const hits: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) || (ts.isPropertyDeclaration(node) && !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword))) return;
    if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isPropertyAccessExpression(node.expression)) {
      const callee = node.expression;
      const intl = ts.isIdentifier(callee.expression) && callee.expression.text === 'Intl';
      if (intl || /^(toLocale\w*|localeCompare)$/.test(callee.name.text)) {
        hits.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} ${callee.getText(source)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return hits;
}

describe('modules loaded at start', () => {
  const files = new Set<string>();
  const loaded = packagesAtStart('cli/tollgate.ts', files);
  // With what `tollgate dev` imports when it runs (its server; a data plane never loads it).
  const withDev = new Set(files);
  packagesAtStart('cli/dev-command.ts', withDev);
  // And with an admin port, its console.
  const withConsole = new Set(withDev);
  packagesAtStart('cli/dev-console.ts', withConsole);

  it('no module the CLI loads at start uses Intl while loading (ICU data is read at first use only)', () => {
    expect(withConsole.has('operator/console/web/usage-numbers.ts')).toBe(true);
    expect([...withConsole].flatMap(intlAtLoad)).toEqual([]);
  });

  it("the CLI loads no feature-only package before the feature is used (express, re2js, the whole of @opentelemetry/core, the trace SDK, undici's index)", () => {
    // The walk itself works: packages every start needs are found.
    expect([...loaded.keys()]).toEqual(expect.arrayContaining(['zod', 'pino']));
    const early = [...loaded].filter(([spec]) => NOT_AT_START.includes(spec)).map(([spec, by]) => `${spec} (imported by ${by})`);
    expect(early).toEqual([]);
  });

  it("a data plane does not load what only dev, compile and crds use: the operator's compiler, manifest reader and CRD renderer, the dev server", () => {
    // The walk itself works: the data plane's launcher is found.
    expect(files).toContain('dataplane/main/launch.ts');
    const commandOnly = ['operator/compile/', 'operator/sources/', 'operator/api/crd-yaml.ts', 'cli/dev-command.ts', 'cli/dev-console.ts', 'cli/dev-banner.ts'];
    expect([...files].filter((f) => commandOnly.some((c) => f.startsWith(c)))).toEqual([]);
  });

  it("tracing (lean-tracing.ts) does not load @opentelemetry/otlp-transformer's index: every serializer, ~1.1 MiB of heap, for the export reply's parser", () => {
    const withTracing = new Set(files);
    const packages = packagesAtStart('dataplane/telemetry/lean-tracing.ts', withTracing);
    // The walk itself works: the exporter's transport is found.
    expect([...packages.keys()]).toContain('@opentelemetry/otlp-exporter-base/node-http');
    expect([...packages.keys()].filter((spec) => spec === '@opentelemetry/otlp-transformer')).toEqual([]);
  });

  it("`tollgate dev` without an admin port does not load its console: the usage history's day tables, the console's numbers", () => {
    expect(withDev).toContain('cli/dev-command.ts');
    const consoleOnly = ['cli/dev-console.ts', 'operator/usage/', 'operator/console/'];
    expect([...withDev].filter((f) => consoleOnly.some((c) => f.startsWith(c)))).toEqual([]);
  });
});
