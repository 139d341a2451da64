import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_PROVIDER_TYPES } from '../../dataplane/config/snapshot.js';

/**
 * The layout rules of docs/architecture.md ("Layout"), checked on the import graph of the source
 * (test files excluded: a test may reach anywhere it needs to):
 *  - no import circle among dataplane/, operator/ and cli/ files;
 *  - inside dataplane/, a folder imports only folders below it in LAYERS (never up, never sideways),
 *    but for the contract's one edge up (CONTRACT_EDGE);
 *  - the contract (config/ and all it imports) reaches nothing of the data plane but config/ and the
 *    providers' contract files, and these import no package but zod;
 *  - the operator imports nothing of the data plane but dataplane/config (the contract);
 *  - the CLI reaches the data plane through dataplane/main (the composition root) and dataplane/config;
 *  - outside providers/, only the registry imports a provider's own folder (providers/<name>/);
 *  - express is imported only by the HTTP layers that serve with it (EXPRESS_LAYERS);
 *  - in dataplane/ and cli/, no code names a provider (type or settings block) outside
 *    providers/<name>/, the registry and the list of the providers' contracts: see providerNames.
 */

/** dataplane/'s folders from the bottom up; `main` is dataplane/main/ (the composition root). */
export const LAYERS = ['config', 'core', 'sse', 'upstream', 'metering', 'providers', 'runtime', 'governance', 'policy', 'telemetry', 'routing', 'pipeline', 'inbound', 'server', 'admin', 'main'] as const;

/**
 * Where express may be imported: the data plane's admin port and the operator's port (its channel
 * endpoints and the console). The public port is plain node:http; nothing below an HTTP layer sees
 * an express type.
 */
const EXPRESS_LAYERS = ['dataplane/admin/', 'operator/distribute/', 'operator/console/'];

/**
 * Where a provider may be named: its own folder (a provider may build on another's, as vLLM on
 * OpenAI's), the registry, and the list of the providers' parts of the contract (each type's
 * settings, required block and public endpoint, declared in providers/<name>/contract.ts), which
 * config/ composes into the snapshot contract for the operator, which sees nothing else of the data plane.
 */
const NAMING_PROVIDERS = /^dataplane\/(providers\/(?!shared\/)[^/]+\/|providers\/(registry|contracts)\.ts$)/;

/** The contract's one import from above config/: the providers' parts of it, composed. */
const CONTRACT_EDGE = 'dataplane/config/snapshot.ts -> dataplane/providers/contracts.ts';
/** What the contract may reach beside config/: the composed list and each provider's part (zod only). */
const CONTRACT_FILES = /^dataplane\/providers\/(contracts\.ts|[^/]+\/contract\.ts)$/;

/**
 * 'openai' and 'anthropic' also name client dialects (inbound/) and the canonical form: for them
 * only the exact name counts (a type compared, a settings block read). The others, and the settings
 * block `azure`, count wherever they appear in an identifier or a string, case and punctuation aside.
 */
const DIALECT_NAMES = new Set(['openai', 'anthropic']);
const squash = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]/g, '');
const PROVIDER_WORDS = [...SUPPORTED_PROVIDER_TYPES.filter((t) => !DIALECT_NAMES.has(t)), 'azure'].map(squash);

/** The identifiers and string texts of code (comments aside) that name a provider, as `file: text`. */
function providerNames(file: string, source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    const text = ts.isIdentifier(node) || ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node) ? node.text : undefined;
    if (text !== undefined && (DIALECT_NAMES.has(text) || PROVIDER_WORDS.some((w) => squash(text).includes(w)))) found.push(`${file}: ${text}`);
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true));
  return found;
}

/** Folders of providers/ that are shared code, not a provider. */
const PROVIDER_SHARED = new Set(['shared']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

const toPosix = (p: string): string => p.split(sep).join('/');

/**
 * Every import of each file (static, dynamic and type-only): relative ones as repository paths in
 * `graph`, package ones (`express`, `node:http`...) as written in `packages`.
 */
function importGraph(roots: readonly string[]): { graph: Map<string, string[]>; packages: Map<string, string[]> } {
  const graph = new Map<string, string[]>();
  const packages = new Map<string, string[]>();
  for (const file of roots.flatMap(sourceFiles)) {
    const specs = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((i) => i.fileName);
    const targets = specs.filter((spec) => spec.startsWith('.')).map((spec) => toPosix(normalize(join(dirname(file), spec))).replace(/\.js$/, '.ts'));
    graph.set(toPosix(file), targets);
    packages.set(toPosix(file), specs.filter((spec) => !spec.startsWith('.')));
  }
  return { graph, packages };
}

/** Strongly connected components with more than one file (or a file importing itself): the circles. */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, indexOf.get(w) as number));
      }
    }
    if (low.get(v) !== indexOf.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

/** The layer of a dataplane/ file: its first folder (dataplane/main/ for files directly in dataplane/). */
function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? (parts[1] as string) : 'main';
}

const { graph, packages } = importGraph(['dataplane', 'operator', 'cli']);
const edges = [...graph].flatMap(([from, targets]) => targets.map((to) => ({ from, to })));
const rank = (file: string): number => (LAYERS as readonly string[]).indexOf(layerOf(file));
const upward = edges
  .filter((e) => e.from.startsWith('dataplane/') && e.to.startsWith('dataplane/'))
  .filter((e) => layerOf(e.from) !== layerOf(e.to) && rank(e.to) > rank(e.from))
  .map((e) => `${e.from} -> ${e.to}`)
  .filter((edge) => edge !== CONTRACT_EDGE);

/** Every file the given files import, directly or not, themselves included. */
function reachedFrom(starts: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...starts];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    todo.push(...(graph.get(file) ?? []));
  }
  return seen;
}
const contract = reachedFrom([...graph.keys()].filter((f) => f.startsWith('dataplane/config/')));
const providerFolder = (file: string): string | undefined => {
  const m = /^dataplane\/providers\/([^/]+)\//.exec(file);
  return m === null || PROVIDER_SHARED.has(m[1] as string) ? undefined : m[1];
};
const reachingProviders = edges
  .filter((e) => providerFolder(e.to) !== undefined && !e.from.startsWith('dataplane/providers/'))
  .map((e) => `${e.from} -> ${e.to}`);

describe('source layout (docs/architecture.md)', () => {
  it('reads a real graph', () => {
    // Guards the checks below against passing on an empty or mis-parsed graph.
    expect(graph.size).toBeGreaterThan(200);
    expect(edges.some((e) => e.from === 'dataplane/providers/registry.ts' && e.to === 'dataplane/config/snapshot.ts')).toBe(true);
  });

  it('has no import circle', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('names every dataplane folder in the layer order', () => {
    const layers = new Set(LAYERS as readonly string[]);
    const unknown = [...graph.keys()].filter((f) => f.startsWith('dataplane/') && !layers.has(layerOf(f)));
    expect(unknown).toEqual([]);
  });

  it('imports only downward inside dataplane/', () => {
    expect(upward).toEqual([]);
  });

  it('keeps the contract to config/ and the providers\' contract files, and those to zod', () => {
    // The operator loads all of it: a provider's runtime code (adapters, transports) must stay out.
    expect([...contract].filter((f) => CONTRACT_FILES.test(f)).length).toBeGreaterThan(1);
    expect([...contract].filter((f) => !f.startsWith('dataplane/config/') && !CONTRACT_FILES.test(f))).toEqual([]);
    const packagesOfParts = [...contract].filter((f) => CONTRACT_FILES.test(f)).flatMap((f) => (packages.get(f) ?? []).filter((p) => p !== 'zod').map((p) => `${f}: ${p}`));
    expect(packagesOfParts).toEqual([]);
  });

  it('lets the operator import only dataplane/config', () => {
    const outside = edges.filter((e) => e.from.startsWith('operator/') && e.to.startsWith('dataplane/') && !e.to.startsWith('dataplane/config/'));
    expect(outside.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('lets the CLI reach the data plane only through dataplane/main and dataplane/config', () => {
    const outside = edges.filter((e) => e.from.startsWith('cli/') && e.to.startsWith('dataplane/') && !/^dataplane\/(main|config)\//.test(e.to));
    expect(outside.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("reaches a provider's own folder only from providers/ (the registry)", () => {
    expect(reachingProviders).toEqual([]);
  });

  it('names a provider only in its own folder, the registry and the contract', () => {
    const files = [...graph.keys()].filter((f) => (f.startsWith('dataplane/') || f.startsWith('cli/')) && !NAMING_PROVIDERS.test(f));
    const sources = files.map((f) => ({ f, source: readFileSync(f, 'utf8') }));
    // Only files that hold a name somewhere (comments included) are parsed: the check stays quick.
    const holding = sources.filter(({ source }) => {
      const flat = squash(source);
      return [...DIALECT_NAMES, ...PROVIDER_WORDS].some((w) => flat.includes(w));
    });
    expect(holding.length).toBeGreaterThan(0);
    expect(holding.flatMap(({ f, source }) => providerNames(f, source))).toEqual([]);
  });

  it('imports express only in the HTTP layers that serve with it', () => {
    const users = [...packages].filter(([, specs]) => specs.some((s) => s === 'express' || s.startsWith('express/'))).map(([file]) => file);
    expect(users.length).toBeGreaterThan(0);
    expect(users.filter((f) => !EXPRESS_LAYERS.some((dir) => f.startsWith(dir)))).toEqual([]);
  });
});

// Keep the helper honest on a hand-made graph: a circle and an upward edge are seen.
describe('layout checks themselves', () => {
  it('find a circle', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['a.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(circles(g)).toEqual([['a.ts', 'b.ts']]);
  });

  it('see a provider named in code, not in a comment or a dialect', () => {
    const source = "// vllm pods\nif (p.type === 'bedrock') use(p.vllm, openAiDialect, 'openai-chat', gcpVertexToken);\nconst o = 'openai';";
    expect(providerNames('x.ts', source)).toEqual(['x.ts: bedrock', 'x.ts: vllm', 'x.ts: gcpVertexToken', 'x.ts: openai']);
  });

  it('place files in their layer', () => {
    expect(layerOf('dataplane/routing/router.ts')).toBe('routing');
    expect(layerOf('dataplane/main/launch.ts')).toBe('main');
    expect(layerOf('dataplane/index.ts')).toBe('main');
  });
});
