import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A long-running process the harness started (pinned to a core), and only ever stopped by its id. */
export interface Service {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: () => boolean;
  exitInfo: () => string;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

export interface SpawnOptions {
  /** A taskset CPU list: one core, or e.g. "0,1" for a process not pinned to one. */
  core: number | string;
  nice?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logFile: string;
}

/** `nice -n N command args` when N is not 0 (nice execs too, so pids stay the command's own). */
function niced(nice: number | undefined, command: string, args: string[]): string[] {
  return nice === undefined || nice === 0 ? [command, ...args] : ['nice', '-n', String(nice), command, ...args];
}

/**
 * Starts `command args` under `taskset -c core` in its own process group. taskset execs the command,
 * so the pid is the command's own. stdout and stderr go straight to logFile (a regular file, not a
 * pipe the harness must drain: a synchronous logger writing to a full pipe would stall, and that
 * stall would be the harness's doing, not the system's).
 */
export function startService(name: string, command: string, args: string[], opts: SpawnOptions): Service {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn('taskset', ['-c', String(opts.core), ...niced(opts.nice, command, args)], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exit: string | undefined;
  child.on('exit', (code, signal) => {
    exit = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
  });
  child.on('error', (err) => {
    exit = `spawn error: ${err.message}`;
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  return {
    name,
    pid,
    child,
    logFile: opts.logFile,
    exited: () => exit !== undefined,
    exitInfo: () => exit ?? 'running',
    stop: async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) => {
      if (exit !== undefined) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      // The whole group we created (e.g. nginx's worker, uvicorn's children), by its id.
      const kill = (s: NodeJS.Signals): void => {
        try {
          process.kill(-pid, s);
        } catch {
          try {
            process.kill(pid, s);
          } catch {
            /* already gone */
          }
        }
      };
      kill(signal);
      const timedOut = await Promise.race([gone.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) {
        kill('SIGKILL');
        await Promise.race([gone, sleep(2000)]);
      }
    },
  };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion on `core`, bounded by timeoutMs. */
export function runTool(
  command: string,
  args: string[],
  opts: { core: number; timeoutMs: number; nice?: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', String(opts.core), ...niced(opts.nice, command, args)], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + err.message, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** The pid and every descendant (by walking /proc parent links). */
export function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(after[1]);
      const kids = parents.get(ppid) ?? [];
      kids.push(Number(entry));
      parents.set(ppid, kids);
    } catch {
      /* raced with an exit */
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const kid of parents.get(pid) ?? []) walk(kid);
  };
  walk(root);
  return out;
}

export interface Memory {
  rssKiB: number;
  hwmKiB: number;
  pids: number;
}

/** VmRSS and VmHWM summed over a process tree. */
export function memoryOf(root: number): Memory {
  let rssKiB = 0;
  let hwmKiB = 0;
  let pids = 0;
  for (const pid of processTree(root)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = /^VmRSS:\s+(\d+)/m.exec(status);
      const hwm = /^VmHWM:\s+(\d+)/m.exec(status);
      if (rss?.[1] !== undefined) rssKiB += Number(rss[1]);
      if (hwm?.[1] !== undefined) hwmKiB += Number(hwm[1]);
      pids++;
    } catch {
      /* raced with an exit */
    }
  }
  return { rssKiB, hwmKiB, pids };
}

/** Polls until `probe` resolves true, the service dies, or the timeout passes. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, service?: Service): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (service?.exited() === true) throw new Error(`${what}: process ended (${service.exitInfo()}) before it was ready; see ${service.logFile}`);
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
  }
  throw new Error(`${what}: not ready after ${Math.round(timeoutMs / 1000)} s${lastError ? ` (${lastError})` : ''}`);
}

/** Last lines of a log file, for error messages in the report. */
export function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}
