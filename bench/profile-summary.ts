/**
 * Prints the summary of one .cpuprofile (self time by group, area and function; Tollgate's functions
 * by inclusive time), optionally only the window a bench/ab-throughput.ts run measured:
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [skipMs] [top]
 */
import { summariseProfile } from './lib/cpu-profile.js';

const [file, skipArg, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [skipMs] [top]');
const s = summariseProfile(file, Number(skipArg ?? 0), Number(topArg ?? 40));
const line = (pct: number, name: string, where = ''): string => `${pct.toFixed(2).padStart(6)}%  ${name}  ${where}\n`;
process.stdout.write(`${s.samples} samples over ${(s.durationMs / 1000).toFixed(1)} s, idle ${s.idlePct.toFixed(1)}%\n\nself time by group:\n`);
for (const g of s.groups) process.stdout.write(line(g.selfPct, g.name));
process.stdout.write('\nself (inclusive) time by area:\n');
for (const a of s.areas) process.stdout.write(`${a.selfPct.toFixed(2).padStart(6)}% (${(a.totalPct ?? 0).toFixed(2).padStart(6)}%)  ${a.name}\n`);
process.stdout.write('\nself time by function:\n');
for (const e of s.topSelf) process.stdout.write(line(e.selfPct, e.name, e.where));
process.stdout.write('\nTollgate functions, inclusive:\n');
for (const e of s.tollgateTotal) process.stdout.write(line(e.totalPct ?? 0, e.name, e.where));
