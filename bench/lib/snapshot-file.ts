/**
 * The compiled snapshot `tollgate dataplane --snapshot <file>` starts from, made by the measured
 * build's own compiler (its dist/, in a child process: an export of another commit may have another
 * snapshot schema than this checkout). Written in the wire form, credentials in clear, as the
 * operator pushes it: `tollgate compile` redacts them, and the data plane sends the Provider's key
 * upstream (a benchmark placeholder, bench/lib/manifests.ts).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const COMPILE = `
const [root, dir, out] = process.argv.slice(1);
const load = (path) => import(root + '/dist/' + path);
const [{ compile }, { readManifestDir }, { loadManifests }, { wireJson }, { newApiKeyHashKey }] = await Promise.all([
  load('operator/compile/compile.js'), load('operator/sources/directory-source.js'), load('operator/sources/manifest-loader.js'),
  load('dataplane/config/secret-value.js'), load('dataplane/config/api-key-digest.js'),
]);
const loaded = loadManifests(readManifestDir(dir));
if (loaded.errors.length > 0) throw new Error('manifests: ' + JSON.stringify(loaded.errors));
const { snapshot, statuses } = compile({ ...loaded.input, apiKeyHashKey: newApiKeyHashKey() });
const bad = statuses.flatMap((s) => s.conditions.filter((c) => (c.status === 'False') !== (c.type === 'Conflicted')).map((c) => s.kind + ' ' + s.name + ': ' + c.reason + ' ' + c.message));
if (bad.length > 0) throw new Error('compile: ' + bad.join('; '));
(await import('node:fs')).writeFileSync(out, wireJson(snapshot));
`;

/** Compiles the manifests in `dir` with the build at `root` into `out`. */
export function compileSnapshotFile(root: string, dir: string, out: string): void {
  execFileSync(process.execPath, ['--input-type=module', '-e', COMPILE, resolve(root), resolve(dir), resolve(out)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}
