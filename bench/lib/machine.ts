import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus, release, totalmem } from 'node:os';
import { loadAverage } from './proc.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  tools: Record<string, string>;
}

function firstLine(cmd: string, args: string[]): string {
  // Some tools print their version to stderr, or exit non-zero after printing it (wrk -v).
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) return `missing (${r.error.message})`;
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim();
  return text.split('\n')[0]?.trim() ?? '';
}

export function machineInfo(): MachineInfo {
  let os = 'unknown';
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    /* not Linux-like */
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os,
    tools: {
      node: process.version,
      go: firstLine('go', ['version']),
      wrk: firstLine('wrk', ['-v']),
      nginx: firstLine('nginx', ['-v']),
      python: firstLine('python3', ['--version']),
    },
  };
}

function cpuTicks(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name.
      out.set(Number(entry), Number(f[11]) + Number(f[12]));
    } catch {
      /* raced with an exit */
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 140);
  } catch {
    return '?';
  }
}

/** Processes that are not ours and used at least 20% of a core over the last second. */
export async function busyProcesses(ownPids: Set<number>): Promise<string[]> {
  const before = cpuTicks();
  await sleep(1000);
  const after = cpuTicks();
  const busy: { pid: number; pct: number }[] = [];
  for (const [pid, t] of after) {
    const pct = t - (before.get(pid) ?? t); // ticks of 10 ms in 1 s = percent of one core
    if (pct >= 20 && !ownPids.has(pid)) busy.push({ pid, pct });
  }
  return busy
    .sort((a, b) => b.pct - a.pct)
    .slice(0, 5)
    .map((b) => `${b.pct}% pid ${b.pid}: ${cmdline(b.pid)}`);
}

export interface LoadSample {
  at: string;
  phase: string;
  load: string;
  busy: string[];
}

export async function sampleLoad(phase: string, ownPids: Set<number>): Promise<LoadSample> {
  return { at: new Date().toISOString(), phase, load: loadAverage(), busy: await busyProcesses(ownPids) };
}
