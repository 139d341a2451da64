import type { PodLoad } from '../../providers/types.js';

/** What the picker knows about one pod at the moment of a pick. */
export interface PodView {
  url: string;
  /** The gateway's own requests in flight to the pod (this gateway replica only). */
  outstanding: number;
  /** False while /health fails, or for a short cool-down after the pod answered 429/503 or refused a connection. */
  available: boolean;
  /** The last scrape, when it is fresher than the provider's staleAfter; undefined otherwise. */
  metrics?: PodLoad;
}

/** When a pod counts as full (from the provider's pod settings). */
export interface SaturationLimits {
  /** Saturated when the pod's queue is longer than this. */
  maxQueueDepth: number;
  /** Saturated when KV-cache usage (0..1) is at or above this. */
  maxKvCacheUsage: number;
}

export function isSaturated(pod: PodView, limits: SaturationLimits): boolean {
  const m = pod.metrics;
  if (m === undefined) return false;
  return (m.waiting ?? 0) > limits.maxQueueDepth || (m.kvCacheUsage ?? 0) >= limits.maxKvCacheUsage;
}

export interface Triage {
  /** Pods that may take the request, untried ones only when there are any. */
  candidates: PodView[];
  saturated: number;
  unavailable: number;
}

/** Drops unavailable and saturated pods; prefers pods this request has not tried yet. */
export function triage(pods: readonly PodView[], limits: SaturationLimits, tried: ReadonlySet<string>): Triage {
  let saturated = 0;
  let unavailable = 0;
  const ok: PodView[] = [];
  for (const p of pods) {
    if (!p.available) unavailable++;
    else if (isSaturated(p, limits)) saturated++;
    else ok.push(p);
  }
  const fresh = ok.filter((p) => !tried.has(p.url));
  return { candidates: fresh.length > 0 ? fresh : ok, saturated, unavailable };
}

/** Lowest score wins; equal scores take turns (`turn` is a counter the caller advances). */
function lowest(pods: readonly PodView[], score: (p: PodView) => number, turn: number): PodView | undefined {
  let best = Number.POSITIVE_INFINITY;
  let tied: PodView[] = [];
  for (const p of pods) {
    const s = score(p);
    if (s < best - 1e-9) {
      best = s;
      tied = [p];
    } else if (Math.abs(s - best) <= 1e-9) tied.push(p);
  }
  return tied.length === 0 ? undefined : tied[turn % tied.length];
}

/** Least outstanding requests: only the gateway's own in-flight count. */
export function pickLeastOutstanding(pods: readonly PodView[], turn: number): PodView | undefined {
  return lowest(pods, (p) => p.outstanding, turn);
}

/**
 * Queue/KV score: queued requests on the pod (scraped) plus the gateway's own in-flight ones (live,
 * so that a burst between two scrapes does not all land on the pod that looked emptiest), with
 * KV-cache usage (0..1, less than one request) as the tie-breaker.
 */
export function queueScore(p: PodView): number {
  return (p.metrics?.waiting ?? 0) + p.outstanding + (p.metrics?.kvCacheUsage ?? 0);
}

export function pickQueueAware(pods: readonly PodView[], turn: number): PodView | undefined {
  return lowest(pods, queueScore, turn);
}

/**
 * LoRA affinity tiers for an adapter: 0 it is running, 1 it is waiting (being loaded), 2 a slot is
 * free (fewer running adapters than max_lora) or the pod reports no LoRA state, 3 the pod would
 * have to evict an adapter.
 */
export function loraTier(p: PodView, adapter: string): number {
  const lora = p.metrics?.lora;
  if (lora === undefined) return 2;
  if (lora.running.includes(adapter)) return 0;
  if (lora.waiting.includes(adapter)) return 1;
  return lora.running.length < lora.maxLora ? 2 : 3;
}

/** The best LoRA tier first, then the queue/KV score inside it. */
export function pickLoraAffinity(pods: readonly PodView[], adapter: string, turn: number): PodView | undefined {
  let bestTier = 4;
  for (const p of pods) bestTier = Math.min(bestTier, loraTier(p, adapter));
  return pickQueueAware(pods.filter((p) => loraTier(p, adapter) === bestTier), turn);
}
