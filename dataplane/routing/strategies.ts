import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { TargetStats } from './target-stats.js';

export type Random = () => number;

const byPriority = (a: TargetConfig, b: TargetConfig): number => a.priority - b.priority;

/** Weighted sampling without replacement: the first pick follows the weights, the rest are fallbacks in weighted order. */
function weightedOrder(targets: readonly TargetConfig[], random: Random): TargetConfig[] {
  const pool = targets.filter((t) => t.weight > 0);
  const zero = targets.filter((t) => t.weight === 0);
  const out: TargetConfig[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((sum, t) => sum + t.weight, 0);
    let r = random() * total;
    let index = pool.length - 1;
    for (let i = 0; i < pool.length; i++) {
      r -= pool[i]?.weight ?? 0;
      if (r < 0) {
        index = i;
        break;
      }
    }
    out.push(...pool.splice(index, 1));
  }
  return [...out, ...zero.sort(byPriority)];
}

function blendedPrice(t: TargetConfig): number {
  return t.pricing.inputPerMTok + t.pricing.outputPerMTok;
}

/** The order in which targets are tried for one request. Priority breaks every tie. */
export function orderTargets(route: RouteConfig, stats: TargetStats, random: Random = Math.random): TargetConfig[] {
  return orderTargetsBy(route.strategy, route.targets, stats, random);
}

/** Least latency first; now and then (see TargetStats.explore) the least recently measured target goes first, so a slow target that recovered is noticed. */
function latencyOrder(targets: readonly TargetConfig[], stats: TargetStats): TargetConfig[] {
  // Unmeasured targets sort first so that each gets measured once.
  const out = [...targets].sort((a, b) => (stats.latency(a) ?? -1) - (stats.latency(b) ?? -1) || byPriority(a, b));
  if (out.length > 1 && stats.explore()) {
    let stalest = 0;
    for (let i = 1; i < out.length; i++) {
      if (stats.measuredSeq(out[i] as TargetConfig) < stats.measuredSeq(out[stalest] as TargetConfig)) stalest = i;
    }
    if (stalest > 0) out.unshift(...out.splice(stalest, 1));
  }
  return out;
}

/** The order in which `targets` are tried under `strategy` (a route's, or one of its rules'). */
export function orderTargetsBy(strategy: RouteConfig['strategy'], targets: readonly TargetConfig[], stats: TargetStats, random: Random = Math.random): TargetConfig[] {
  switch (strategy) {
    case 'failover':
      return [...targets].sort(byPriority);
    case 'weighted':
      return weightedOrder(targets, random);
    case 'least-cost':
      return [...targets].sort((a, b) => blendedPrice(a) - blendedPrice(b) || byPriority(a, b));
    case 'least-loaded':
      return [...targets].sort((a, b) => stats.inflight(a) - stats.inflight(b) || byPriority(a, b));
    case 'least-latency':
      return latencyOrder(targets, stats);
  }
}
