/**
 * What loading a Tollgate build's modules leaves in the heap, by package and by folder: a fresh
 * `node --expose-gc` in the build's directory imports every module the entry files reach through
 * static imports, leaves first, and reads `used_heap_size` after four full GCs before and after each.
 * Live objects only, so it does not depend on the machine's load. A package or folder is charged with
 * the node builtins it is first to load (zlib, tls, ...), and the heap grows in steps of ~0.2 MiB: the
 * total and the large packages repeat within ~0.2 MiB, a folder's sum moves by up to ~0.4 MiB between
 * runs (to or from its neighbours in the order), a single module's figure says little
 * (bench/results/memidle-s12-2026-12-06.md).
 *   node --import tsx bench/module-heap.ts <tollgate root> [entry files under dist/ ...] [--top n]
 * Default entries: cli/dev-command.js and dataplane/main/launch.js (what `tollgate dev` loads at start).
 * MODULE_HEAP_LAST=<dist file> imports that one last, with the modules only it imports, and prints what they add.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
const [rootArg, ...entryArgs] = args;
if (rootArg === undefined) throw new Error('usage: module-heap.ts <tollgate root> [entry files under dist/ ...] [--top n]');
const root = resolve(rootArg);
const dist = join(root, 'dist');
const entries = (entryArgs.length > 0 ? entryArgs : ['cli/dev-command.js', 'dataplane/main/launch.js']).map((e) => join(dist, e));
const last = process.env.MODULE_HEAP_LAST === undefined ? undefined : join(dist, process.env.MODULE_HEAP_LAST);

/** Static imports and re-exports of a compiled module (type-only ones are gone after tsc). */
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

/**
 * Every module reachable from the entries, each after the modules it imports (packages as bare
 * specifiers); modules already in `seen` are skipped (and not walked through).
 */
function dependencyOrder(files: string[], seen = new Set<string>()): string[] {
  const order: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) visit(target);
      } else if (!spec.startsWith('node:') && !seen.has(spec)) {
        seen.add(spec);
        order.push(spec);
      }
    }
    order.push(file);
  };
  for (const f of files) visit(f);
  return order;
}

// The last module is not walked through from the entries: what only it imports comes after the rest, with it.
const seen = new Set<string>(last === undefined ? [] : [last]);
const order = dependencyOrder(entries, seen);
const lastGroup = last === undefined ? [] : (seen.delete(last), dependencyOrder([last], seen));
order.push(...lastGroup);
const probe = `
import v8 from 'node:v8';
const used = () => { for (let i = 0; i < 4; i++) globalThis.gc(); return v8.getHeapStatistics().used_heap_size; };
const out = [['(empty process)', used()]];
let prev = out[0][1];
for (const m of ${JSON.stringify(order)}) {
  await import(m.startsWith('/') ? 'file://' + m : m);
  const now = used();
  out.push([m, now - prev]);
  prev = now;
}
process.stdout.write(JSON.stringify(out));
`;
const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', probe], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (run.status !== 0) throw new Error(`probe failed (${run.status}): ${run.stderr}`);
const rows = JSON.parse(run.stdout) as [string, number][];

/** A package's name, or a dist/ folder two levels deep (dataplane/config), or the file. */
function group(module: string): string {
  if (!module.startsWith('/')) return module.startsWith('@') ? module.split('/').slice(0, 2).join('/') : (module.split('/')[0] as string);
  const parts = relative(dist, module).split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts.join('/');
}

const mib = (b: number): string => (b / 1048576).toFixed(2).padStart(6);
const [empty, ...loaded] = rows;
const total = loaded.reduce((s, [, b]) => s + b, 0);
process.stdout.write(`${loaded.length} modules from ${entries.map((e) => relative(dist, e)).join(', ')}: ${mib(total)} MiB of heap over an empty process's ${mib(empty?.[1] ?? 0)} MiB\n\nby package or folder:\n`);
const groups = new Map<string, number>();
for (const [m, b] of loaded) groups.set(group(m), (groups.get(group(m)) ?? 0) + b);
for (const [g, b] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${mib(b)} MiB  ${g}\n`);
if (last !== undefined) {
  const added = loaded.slice(loaded.length - lastGroup.length).reduce((s, [, b]) => s + b, 0);
  process.stdout.write(`\nlast, ${relative(dist, last)} with the ${lastGroup.length - 1} modules only it imports: ${mib(added)} MiB\n`);
  for (const [m, b] of loaded.slice(loaded.length - lastGroup.length)) process.stdout.write(`${mib(b)} MiB    ${m.startsWith('/') ? relative(dist, m) : m}\n`);
}
