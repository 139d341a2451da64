/**
 * Issue 15's throughput targets are shares of the Node floor's req/s. Measured one row after another,
 * minutes apart, a share moves with whatever the shared machine does between the rows (a floor row
 * that read 10,003 req/s against 10,700–12,000 in other quiet runs moved the share by ~10 points).
 * So the share is also measured with the floor and the Tollgate rows started at once and visited in
 * turn, round after round (the order changed every round, each visit after a pause), and quoted as a ratio of those rounds.
 */
import type { SystemDef } from './systems.js';

/** Requests per second of each system (by key), one entry per round. */
export interface ShareRun {
  rounds: number;
  seconds: number;
  rps: Record<string, number[]>;
}

/** The Node floor and the Tollgate rows issue 15 names (governance off and on), in the run's order. */
export function shareSystems(defs: readonly SystemDef[]): SystemDef[] {
  const picked = defs.filter((d) => d.id === 'node-floor' || d.key === 'tollgate-off' || d.key === 'tollgate-on');
  return picked.some((d) => d.id === 'node-floor') && picked.length >= 2 ? picked : [];
}

/**
 * Round r's visiting order: a rotation of the list on even rounds, the same rotation reversed on odd
 * ones. A rotation alone keeps each row's predecessor fixed, so what a row leaves running after its
 * load (access log, span export, GC) would always fall on the same neighbour; with the reversals each
 * row follows each other row (Williams' design). The pause before each visit (run.ts) takes the rest.
 */
export function visitOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  const shift = Math.floor(round / 2);
  const rotated = items.map((_, i) => items[(shift + i) % n] as T);
  return round % 2 === 0 ? rotated : rotated.reverse();
}

export interface Share {
  /** Mean req/s of the row over the mean of the floor's, over the same rounds. */
  ofMeans: number;
  perRound: number[];
  rowMean: number;
  floorMean: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The row's share of the floor, or undefined when either has no rounds. */
export function shareOf(run: ShareRun, floorKey: string, rowKey: string): Share | undefined {
  const floor = run.rps[floorKey] ?? [];
  const row = run.rps[rowKey] ?? [];
  const n = Math.min(floor.length, row.length);
  if (n === 0) return undefined;
  const f = floor.slice(0, n);
  const t = row.slice(0, n);
  return { ofMeans: mean(t) / mean(f), perRound: t.map((x, i) => x / (f[i] as number)), rowMean: mean(t), floorMean: mean(f) };
}
