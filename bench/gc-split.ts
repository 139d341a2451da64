/**
 * What each gateway's garbage collector did per request in one capture-ab round (issue 16: which of
 * capture's objects live long enough to be copied or promoted), from node's `--trace-gc-nvp` lines:
 *
 *   CAPTURE_AB_NODE_ARGS=--trace-gc-nvp CAPTURE_AB_EARLY=0 node --import tsx bench/capture-ab.ts 1 8
 *   node --import tsx bench/gc-split.ts <raw run dir> [from ms=14500]
 *
 * For each of r1-A and r1-B, per isolate (the request thread's, and in B the capture worker's), the
 * collections from `from` ms after the isolate started (capture-ab's warm-up is 14 s) to the end of
 * the log: scavenges and mark-compacts, and per request served in the measured window (req/s ×
 * seconds, read from the run's capture-ab.md) the bytes allocated, copied within the young generation
 * (new_space_survived) and promoted to the old one. A scavenge's cost follows what it copies and
 * promotes, not what was allocated; promoted bytes bring on the mark-compacts. Compare A and B of the
 * same round: between rounds the machine's speed changes how long a request's objects live.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, fromArg] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: gc-split.ts <raw run dir> [from ms=14500]');
const from = Number(fromArg ?? 14_500);

const summary = readFileSync(join(dir, 'capture-ab.md'), 'utf8');
// "round 1: A (…) 3341 req/s, …; B (…) 2692 req/s" and "4 rounds of 8 s".
const round = /round 1: A \([^)]*\) (\d+) req\/s.*?B \([^)]*\) (\d+) req\/s/.exec(summary);
const seconds = Number(/rounds? of (\d+) s/.exec(summary)?.[1] ?? 8);
if (round === null) throw new Error(`${dir}/capture-ab.md: no round 1 rates`);
const rates = { A: Number(round[1]), B: Number(round[2]) };

interface Totals {
  scavenges: number;
  markCompacts: number;
  allocated: number;
  survived: number;
  promoted: number;
}

for (const side of ['A', 'B'] as const) {
  const byIsolate = new Map<string, Totals>();
  for (const line of readFileSync(join(dir, `r1-${side}`, 'tollgate.log'), 'utf8').split('\n')) {
    // "[pid:0xisolate]     1234 ms: pause=… gc=s … allocated=… promoted=… new_space_survived=…"
    const head = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: /.exec(line);
    if (head === null || Number(head[2]) < from) continue;
    const field = (name: string): number => Number(new RegExp(`(?:^| )${name}=(\\S+)`).exec(line)?.[1] ?? 0);
    const kind = /(?:^| )gc=(\S+)/.exec(line)?.[1];
    if (kind === undefined) continue;
    const t = byIsolate.get(head[1]!) ?? { scavenges: 0, markCompacts: 0, allocated: 0, survived: 0, promoted: 0 };
    if (kind === 's') t.scavenges++;
    else if (kind === 'mc') t.markCompacts++;
    t.allocated += field('allocated');
    t.survived += field('new_space_survived');
    t.promoted += field('promoted');
    byIsolate.set(head[1]!, t);
  }
  const requests = rates[side] * seconds;
  process.stdout.write(`${side}: ${rates[side]} req/s × ${seconds} s = ${requests} requests\n`);
  // The busiest allocator first: the request thread's isolate.
  for (const [isolate, t] of [...byIsolate].sort((a, b) => b[1].allocated - a[1].allocated)) {
    const per = (bytes: number): string => `${((bytes / requests) / 1024).toFixed(2)} KB`;
    process.stdout.write(
      `  isolate ${isolate}: ${t.scavenges} scavenges, ${t.markCompacts} mark-compacts; per request allocated ${per(t.allocated)}, copied ${per(t.survived)}, promoted ${per(t.promoted)}\n`,
    );
  }
}
