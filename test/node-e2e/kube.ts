// Helpers of the real-node e2e suite: kubectl and helm against the cluster of
// `make cluster-up NODE=1` (the suite runs inside its network namespace), bounded waits on real
// conditions, and the client pod's commands.
import { spawn, spawnSync } from 'node:child_process';

const KUBECTL = process.env.TOLLGATE_E2E_KUBECTL ?? 'kubectl';
const HELM = process.env.TOLLGATE_E2E_HELM ?? 'helm';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], input?: string, timeoutMs = 120_000): RunResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', input, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

export const kubectl = (args: string[], input?: string, timeoutMs?: number): RunResult => run(KUBECTL, args, input, timeoutMs);
export const helm = (args: string[], timeoutMs?: number): RunResult =>
  run(HELM, args, undefined, timeoutMs);

/** kubectl that must succeed; returns stdout. */
export function kubectlOk(args: string[], input?: string, timeoutMs?: number): string {
  const r = kubectl(args, input, timeoutMs);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function helmOk(args: string[], timeoutMs = 300_000): string {
  const r = helm(args, timeoutMs);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function kubectlJson<T>(args: string[]): T {
  return JSON.parse(kubectlOk([...args, '-o', 'json'])) as T;
}

export const apply = (yaml: string): string => kubectlOk(['apply', '-f', '-'], yaml);

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`; the error names `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Prints how long each phase of the suite took. */
export function phaseTimer(): (name: string) => void {
  let at = Date.now();
  return (name) => {
    const now = Date.now();
    console.log(`[e2e] ${name}: ${((now - at) / 1000).toFixed(1)} s`);
    at = now;
  };
}

interface Condition {
  type: string;
  status: string;
}
export interface KubeObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  status?: { conditions?: Condition[]; [k: string]: unknown };
  spec?: Record<string, unknown>;
}

export const conditionTrue = (o: KubeObject, type: string): boolean =>
  o.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

/** Ready pods of a Deployment's selector (running, Ready, not terminating). */
export function readyPods(ns: string, selector: string): string[] {
  const list = kubectlJson<{ items: (KubeObject & { metadata: { deletionTimestamp?: string } })[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined && conditionTrue(p, 'Ready')).map((p) => p.metadata.name);
}

export interface OnceResult {
  ok: boolean;
  status?: number | null;
  error?: string;
  content?: string;
  usage?: { prompt: number; completion: number };
}

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  failures: { n: number; status: number | null; error: string }[];
  usage: { prompt: number; completion: number };
}

const CLIENT = ['node', '--import', 'tsx', 'test/node-e2e/pod/client.ts'];

/** One request from a client pod (see pod/client.ts). */
export function clientOnce(ns: string, pod: string, baseURL: string, model: string, tokenFile: string, stream = false): OnceResult {
  const out = kubectlOk(['-n', ns, 'exec', pod, '--', ...CLIENT, 'once', baseURL, model, tokenFile, ...(stream ? ['stream'] : [])], undefined, 60_000);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as OnceResult;
}

/** A bounded load from a client pod in the background; `progress()` reads its running count, `stop()` ends it. */
export function clientLoad(ns: string, pod: string, baseURL: string, model: string, tokenFile: string, opts: { workers: number; maxRequests: number; maxSeconds: number }) {
  const stopFile = `/tmp/stop-${Date.now()}`;
  const child = spawn(KUBECTL, ['-n', ns, 'exec', pod, '--', ...CLIENT, 'load', baseURL, model, tokenFile, String(opts.workers), String(opts.maxRequests), String(opts.maxSeconds), stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  return {
    /** Requests answered so far (ok, failed). */
    progress(): { ok: number; failed: number } {
      const r = kubectl(['-n', ns, 'exec', pod, '--', 'cat', `${stopFile}.progress`], undefined, 20_000);
      const [ok = 0, failed = 0] = r.status === 0 ? r.stdout.trim().split(' ').map(Number) : [];
      return { ok, failed };
    },
    async stop(timeoutMs = 60_000): Promise<LoadResult> {
      kubectlOk(['-n', ns, 'exec', pod, '--', 'touch', stopFile], undefined, 20_000);
      const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), timeoutMs))]);
      if (code !== 0) throw new Error(`client load exited with ${code}: ${stderr}${stdout}`);
      return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LoadResult;
    },
  };
}

/** Waits until the load has answered `more` further requests since `from` (ok ones). */
export async function loadAdvances(load: { progress(): { ok: number } }, more: number, timeoutMs = 60_000): Promise<number> {
  const from = load.progress().ok;
  return waitFor(`${more} more requests of the load`, timeoutMs, () => {
    const { ok } = load.progress();
    return ok >= from + more ? ok : undefined;
  });
}
