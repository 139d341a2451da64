// The Dockerfile cannot be built here (no container engine runs), so these checks keep it honest:
// what it copies exists and is not excluded by .dockerignore, the runtime stage runs the CLI as a
// numeric non-root user, and every package the compiled code imports at run time survives
// `npm ci --omit=dev`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const ignore = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; bin: Record<string, string> };

/** Instructions with their arguments, line continuations joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
const stages = instructions.reduce<{ op: string; args: string }[][]>((acc, i) => {
  if (i.op === 'FROM') acc.push([]);
  acc.at(-1)?.push(i);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];

/** .dockerignore semantics for the patterns used here: `*` excludes all, `!x` re-includes x (and below). */
function inContext(path: string): boolean {
  let included = true;
  for (const pattern of ignore) {
    const negate = pattern.startsWith('!');
    const p = (negate ? pattern.slice(1) : pattern).replace(/\/$/, '');
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) included = negate;
  }
  return included;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('Dockerfile', () => {
  it('builds in stages from node:20 slim and installs production dependencies only in the runtime', () => {
    expect(stages.length).toBe(3);
    for (const stage of stages) expect(stage[0]?.args).toMatch(/^\$\{NODE_IMAGE\}/);
    expect(instructions.find((i) => i.op === 'ARG')?.args).toBe('NODE_IMAGE=node:20-bookworm-slim');
    expect(dockerfile).toContain('RUN npm ci --omit=dev --no-audit --no-fund');
    // The runtime stage copies node_modules only from the production-only stage.
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain('--from=deps /app/node_modules ./node_modules');
    expect(copies.some((c) => c.includes('--from=build') && c.includes('node_modules'))).toBe(false);
  });

  it('runs the CLI entrypoint as a numeric non-root user', () => {
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9][0-9]*:[0-9]+$/);
    // The chart's podSecurityContext uses the same user.
    expect(readFileSync('charts/tollgate/values.yaml', 'utf8')).toContain(`runAsUser: ${user.split(':')[0]}`);
    // The entrypoint script picks node's flags and malloc arenas, then runs dist/cli/tollgate.js.
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["/app/bin/tollgate"]');
    expect(runtime.filter((i) => i.op === 'COPY').map((i) => i.args)).toContain('bin/tollgate ./bin/tollgate');
    expect(statSync('bin/tollgate').mode & 0o111, 'bin/tollgate is executable').toBe(0o111);
    expect(readFileSync('bin/tollgate', 'utf8')).toContain('exec "${TOLLGATE_NODE:-node}" $flags "$root/dist/cli/tollgate.js" "$@"');
    // Without arguments the image prints the usage (the CLI takes `help`, not `--help`, as a command).
    expect(runtime.find((i) => i.op === 'CMD')?.args).toBe('["help"]');
    expect(pkg.bin.tollgate).toBe('dist/cli/tollgate.js');
  });

  // The base image's package managers were in every running pod, though the product never runs
  // them: only attack surface. The entrypoint and the chart call node (and sleep) alone.
  it('removes npm, npx, corepack and yarn from the runtime stage, before it drops root, and keeps node', () => {
    const userAt = runtime.findIndex((i) => i.op === 'USER');
    const removal = runtime.findIndex((i) => i.op === 'RUN' && i.args.startsWith('rm -rf '));
    expect(removal, 'a RUN rm -rf in the runtime stage').toBeGreaterThanOrEqual(0);
    expect(removal, 'removed while still root').toBeLessThan(userAt);
    const removed = (runtime[removal]?.args ?? '').split('&&')[0]?.trim().split(/\s+/).slice(2) ?? [];
    for (const path of ['/usr/local/lib/node_modules/npm', '/usr/local/lib/node_modules/corepack', '/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/corepack', '/usr/local/bin/yarn', '/usr/local/bin/yarnpkg']) {
      expect(removed, path).toContain(path);
    }
    // node itself stays (and the RUN shows it still starts).
    expect(removed.some((p) => p === '/usr/local/bin/node' || p === '/usr/local/bin' || p === '/usr/local/lib/node_modules' || p === '/usr/local')).toBe(false);
    expect(runtime[removal]?.args).toContain('&& node -e');
    // Nothing the runtime runs needs them.
    const runtimeRuns = runtime.filter((i) => i.op === 'RUN' || i.op === 'ENTRYPOINT' || i.op === 'CMD').slice(1).map((i) => i.args);
    for (const text of [...runtimeRuns, readFileSync('bin/tollgate', 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n')]) {
      expect(text).not.toMatch(/\b(npm|npx|corepack|yarn)\b/);
    }
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const local = instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from=')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(local.length).toBeGreaterThan(0);
    for (const src of local) {
      const path = src.replace(/\/$/, '');
      expect(() => statSync(path), path).not.toThrow();
      expect(inContext(path), `${path} is excluded by .dockerignore`).toBe(true);
    }
    for (const heavy of ['node_modules', 'dist', '.git', 'bench', 'test', '.cache']) expect(inContext(heavy), heavy).toBe(false);
  });

  it('compiles from cli/, operator/ and dataplane/ alone, whose runtime imports are all production dependencies', () => {
    const files = ['cli', 'operator', 'dataplane'].flatMap(sourceFiles);
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
        const spec = m[3] ?? '';
        if (m[2] !== undefined) continue; // type-only: erased by tsc
        if (spec.startsWith('.')) {
          // Relative imports must stay inside the three copied folders.
          const target = join(file, '..', spec);
          expect(['cli/', 'operator/', 'dataplane/'].some((d) => target.startsWith(d)), `${file} imports ${spec}`).toBe(true);
          continue;
        }
        if (spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        if (pkg.dependencies[name] === undefined) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing], 'imported at run time but not in dependencies (npm ci --omit=dev drops it)').toEqual([]);
  });
});
