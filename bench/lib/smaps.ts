/** /proc/<pid>/smaps read as mappings with their resident size (bench/native-memory.ts, idle-rss.ts). */
import { readFileSync } from 'node:fs';

// glibc places each non-main malloc arena in its own 64 MiB-aligned reservation (HEAP_MAX_SIZE on 64-bit).
const ARENA = 64 * 1024 * 1024;

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rssKiB: number;
}

export function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      out.push({ start: parseInt(head[1] as string, 16), end: parseInt(head[2] as string, 16), perms: head[3] as string, path: head[4] ?? '', rssKiB: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    const last = out[out.length - 1];
    if (rss !== null && last !== undefined) last.rssKiB = Number(rss[1]);
  }
  return out;
}

/** Whether maps[i] is a glibc thread arena: a rw anonymous start on a 64 MiB boundary whose reservation (with the ---p rest after it) is 64 MiB. */
export function isThreadArena(maps: Mapping[], i: number): boolean {
  const m = maps[i];
  if (m === undefined || m.path !== '' || m.perms !== 'rw-p' || m.start % ARENA !== 0) return false;
  const next = maps[i + 1];
  const reserved = next !== undefined && next.path === '' && next.perms === '---p' && next.start === m.end ? next.end - m.start : m.end - m.start;
  return reserved === ARENA;
}
