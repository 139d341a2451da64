// Runs the integration suite in parallel lanes (make test-integration). Each file gets its own vitest
// run inside its own network namespace (run-in-netns.sh), so files that use the same pod addresses
// (10.250.0.x) or operator ports cannot meet; each file already starts its own kube-apiserver + etcd.
// Most of a file's time is waiting (pods draining, leases, watches), so two lanes on two cores take
// well under the time of one.
//
//   npx tsx test/integration/run-lanes.ts [file...]     (default: every test/integration/*.test.ts)
//   TOLLGATE_INTEGRATION_LANES=1   one file at a time
//
// Longest files start first, by the durations of the last run (kept in
// ${TOLLGATE_CACHE_DIR:-~/.cache/tollgate}/integration-durations.json; only the order depends on it).
// A file's output is printed whole when it ends, so lanes never interleave lines.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const durationsFile = join(process.env.TOLLGATE_CACHE_DIR ?? join(homedir(), '.cache', 'tollgate'), 'integration-durations.json');
const lanes = Math.max(1, Number(process.env.TOLLGATE_INTEGRATION_LANES ?? '2') || 1);

interface FileResult {
  file: string;
  ok: boolean;
  seconds: number;
  failure: string;
  tests: string;
}

function readDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(durationsFile, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/**
 * What a failed file printed about its failures (vitest's "Failed Tests" section, else its last lines),
 * repeated at the end: CI keeps only the tail of the output, where the per-file summary sits.
 */
function failureOf(plain: string): string {
  const at = plain.search(/⎯+\s*Failed Tests|⎯+\s*Failed Suites|⎯+\s*Unhandled Errors/);
  const lines = (at >= 0 ? plain.slice(at) : plain.split('\n').slice(-25).join('\n')).split('\n').filter((l) => l.trim() !== '');
  return lines.slice(0, 25).join('\n');
}

/** One file in its own network namespace; resolves with its result once it ends (output printed then). */
function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' };
  delete env.TOLLGATE_IN_NETNS; // a namespace of its own, even when this runner already runs inside one
  const child = spawn('bash', [join(here, 'run-in-netns.sh'), 'npx', 'vitest', 'run', '-c', 'vitest.integration.config.ts', '--reporter=verbose', file], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => out.push(d));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8');
      process.stdout.write(text);
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      const tests = /Tests\s+(.*)/.exec(plain)?.[1]?.trim() ?? 'no summary';
      resolve({ file, ok: code === 0, seconds: (Date.now() - started) / 1000, tests, failure: failureOf(plain) });
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const files = (args.length > 0 ? args : readdirSync(here).filter((f) => f.endsWith('.test.ts')).map((f) => join(here, f))).map((f) => relative(root, resolvePath(f)));
  const known = readDurations();
  // Unknown (new) files first: they may be long, and a long file started last keeps its lane busy alone.
  const queue = [...files].sort((a, b) => (known[b] ?? Infinity) - (known[a] ?? Infinity) || a.localeCompare(b));
  console.log(`[integration] ${files.length} files in ${Math.min(lanes, files.length)} lanes, each file in its own network namespace`);
  const started = Date.now();
  const results: FileResult[] = [];
  await Promise.all(
    Array.from({ length: Math.min(lanes, files.length) }, async () => {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) results.push(await runFile(file));
    }),
  );
  mkdirSync(dirname(durationsFile), { recursive: true });
  writeFileSync(durationsFile, `${JSON.stringify({ ...known, ...Object.fromEntries(results.filter((r) => r.ok).map((r) => [r.file, Math.round(r.seconds)])) }, null, 1)}\n`);
  console.log('\n[integration] per file (wall time, including its vitest start):');
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) console.log(`  ${r.ok ? 'passed' : 'FAILED'}  ${r.seconds.toFixed(0).padStart(4)} s  ${r.file}  (${r.tests})`);
  const failed = results.filter((r) => !r.ok);
  const total = results.reduce((s, r) => s + r.seconds, 0);
  console.log(`[integration] ${results.length - failed.length} of ${results.length} files passed in ${((Date.now() - started) / 1000).toFixed(0)} s (${total.toFixed(0)} s of file time)`);
  if (failed.length > 0) {
    for (const r of failed) console.log(`\n[integration] ${r.file} failed:\n${r.failure}`);
    console.log(`[integration] FAILED: ${failed.map((r) => r.file).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
