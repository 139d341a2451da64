import type { PodView } from './pod-scoring.js';

/** 32-bit FNV-1a with a murmur3 finaliser (good spread for short, similar keys). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A consistent-hash ring over pod URLs with virtual nodes; adding or removing a pod moves only its share of keys. */
export class HashRing {
  private readonly points: { at: number; url: string }[] = [];
  readonly size: number;

  constructor(urls: readonly string[], virtualNodes = 64) {
    const unique = [...new Set(urls)];
    this.size = unique.length;
    for (const url of unique) {
      for (let i = 0; i < virtualNodes; i++) this.points.push({ at: hash32(`${url}#${i}`), url });
    }
    this.points.sort((a, b) => a.at - b.at || (a.url < b.url ? -1 : 1));
  }

  /** Every pod once, in the order met walking clockwise from the key's position. */
  walk(key: number): string[] {
    const n = this.points.length;
    if (n === 0) return [];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.points[mid]?.at ?? 0) < key) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < n && out.length < this.size; i++) {
      const url = this.points[(lo + i) % n]?.url;
      if (url !== undefined && !seen.has(url)) {
        seen.add(url);
        out.push(url);
      }
    }
    return out;
  }
}

/**
 * Consistent hashing with bounded load (Mirrokni et al.): walk the ring from the key and take the
 * first candidate whose load after this request stays within `loadBound` × the average,
 * ceil(loadBound × (total + 1) / pods). With loadBound ≥ 1 some candidate always qualifies.
 * Load is the gateway's own outstanding requests.
 */
export function pickBoundedLoad(ring: HashRing, key: number, candidates: readonly PodView[], loadBound: number): PodView | undefined {
  if (candidates.length === 0) return undefined;
  const byUrl = new Map(candidates.map((p) => [p.url, p]));
  const total = candidates.reduce((s, p) => s + p.outstanding, 0);
  const cap = Math.ceil((Math.max(1, loadBound) * (total + 1)) / candidates.length);
  for (const url of ring.walk(key)) {
    const p = byUrl.get(url);
    if (p !== undefined && p.outstanding + 1 <= cap) return p;
  }
  // Candidates missing from the ring (a pod of an older snapshot): least loaded.
  return [...candidates].sort((a, b) => a.outstanding - b.outstanding)[0];
}
