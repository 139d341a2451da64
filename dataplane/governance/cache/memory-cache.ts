import type { CachedResponse, ResponseCache } from '../types.js';
import { partitionOf } from './cache-key.js';
import { type CacheStats, newCacheStats } from './cache-stats.js';

export interface MemoryCacheOptions {
  /** Upper bound on all entries of all routes together, in bytes of their JSON text (default 64 MiB). */
  maxTotalBytes?: number;
  /** Larger responses are not cached (default 1 MiB). */
  maxEntryBytes?: number;
  now?: () => number;
}

interface Entry {
  key: string;
  partition: string;
  json: string;
  expiresAt: number;
}

/**
 * Per-pod LRU with a TTL per entry, bounded per route (maxEntries of the route, passed with every
 * set) and in total bytes. Entries are kept as JSON text, so a caller that changes what get
 * returned cannot change the cache.
 */
export class MemoryResponseCache implements ResponseCache {
  readonly stats: CacheStats = newCacheStats();
  /** All entries, least recently used first. */
  private readonly lru = new Map<string, Entry>();
  /** Per route, least recently used first. */
  private readonly partitions = new Map<string, Map<string, Entry>>();
  private bytes = 0;
  private readonly maxTotalBytes: number;
  private readonly maxEntryBytes: number;
  private readonly now: () => number;

  constructor(opts: MemoryCacheOptions = {}) {
    this.maxTotalBytes = opts.maxTotalBytes ?? 64 * 1024 * 1024;
    this.maxEntryBytes = opts.maxEntryBytes ?? 1024 * 1024;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.lru.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get(key: string): Promise<CachedResponse | undefined> {
    const entry = this.lru.get(key);
    if (entry === undefined || entry.expiresAt <= this.now()) {
      if (entry !== undefined) this.remove(entry);
      this.stats.misses++;
      return Promise.resolve(undefined);
    }
    this.touch(entry);
    this.stats.hits++;
    return Promise.resolve(JSON.parse(entry.json) as CachedResponse);
  }

  set(key: string, value: CachedResponse, ttlMs: number, maxEntries: number): Promise<void> {
    const json = JSON.stringify(value);
    const existing = this.lru.get(key);
    if (existing !== undefined) this.remove(existing);
    if (json.length > this.maxEntryBytes || json.length > this.maxTotalBytes) {
      this.stats.tooLarge++;
      return Promise.resolve();
    }
    if (ttlMs <= 0 || maxEntries < 1) return Promise.resolve();
    const partition = partitionOf(key);
    const entry: Entry = { key, partition, json, expiresAt: this.now() + ttlMs };
    let routeEntries = this.partitions.get(partition);
    if (routeEntries === undefined) {
      routeEntries = new Map();
      this.partitions.set(partition, routeEntries);
    }
    routeEntries.set(key, entry);
    this.lru.set(key, entry);
    this.bytes += json.length;
    this.stats.stores++;
    this.evict(routeEntries, maxEntries);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.lru.clear();
    this.partitions.clear();
    this.bytes = 0;
    return Promise.resolve();
  }

  private evict(routeEntries: Map<string, Entry>, maxEntries: number): void {
    const now = this.now();
    for (const e of routeEntries.values()) {
      if (routeEntries.size <= maxEntries) break;
      if (e.expiresAt > now) this.stats.evictions++;
      this.remove(e);
    }
    for (const e of this.lru.values()) {
      if (this.bytes <= this.maxTotalBytes) break;
      if (e.expiresAt > now) this.stats.evictions++;
      this.remove(e);
    }
  }

  private touch(entry: Entry): void {
    this.lru.delete(entry.key);
    this.lru.set(entry.key, entry);
    const routeEntries = this.partitions.get(entry.partition);
    routeEntries?.delete(entry.key);
    routeEntries?.set(entry.key, entry);
  }

  private remove(entry: Entry): void {
    if (this.lru.get(entry.key) !== entry) return;
    this.lru.delete(entry.key);
    this.bytes -= entry.json.length;
    const routeEntries = this.partitions.get(entry.partition);
    routeEntries?.delete(entry.key);
    if (routeEntries?.size === 0) this.partitions.delete(entry.partition);
  }
}
