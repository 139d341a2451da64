/**
 * CPU time per call of `run` on two subjects (two builds, two trees) in one process: the subjects
 * alternate round by round (B,A then A,B), so machine load falls on both alike; two warm-up rounds
 * are dropped, the rest give a median each. µs per call (process.cpuUsage), [A, B].
 */
export function interleavedCpuMedians<T>(subjects: readonly [T, T], calls: number, rounds: number, run: (subject: T, i: number) => unknown): [number, number] {
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds + 2; r++) {
    for (const k of r % 2 === 0 ? [1, 0] : [0, 1]) {
      const subject = subjects[k]!;
      const start = cpu();
      for (let i = 0; i < calls; i++) run(subject, i);
      if (r >= 2) times[k]!.push((cpu() - start) / calls);
    }
  }
  return [median(times[0]), median(times[1])];
}

function cpu(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
