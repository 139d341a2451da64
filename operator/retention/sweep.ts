import { CAPTURE_STREAMS, type CaptureStream, parseKey, partitionExpired, streamPrefix } from '../../dataplane/config/capture-layout.js';
import { DELETE_BATCH, type ListPage, type PartitionStore, type StoredObject } from './partition-store.js';

/** What one DataPolicy keeps in one store. */
export interface SweepTarget {
  /** Where the layout starts: the S3 destination's prefix, '' for a local directory. */
  root: string;
  /** The policy's writer tag (capture-layout.ts `writerTag`): only its objects are swept. */
  writer: string;
  /** Per stream; a stream without one is kept until removed by hand and not looked at. */
  retentionMs: Partial<Record<CaptureStream, number>>;
}

export interface SweepLimits {
  /** Objects deleted in one pass, at most; the rest waits for the next pass. */
  maxDeletes: number;
  /** List requests in one pass, at most. */
  maxListCalls: number;
}

export interface StreamSweep {
  deletedObjects: number;
  deletedBytes: number;
  /** Start of the oldest hour partition of this policy's objects still kept (epoch ms); absent when none. */
  oldestKeptMs?: number;
}

export interface SweepResult {
  streams: Partial<Record<CaptureStream, StreamSweep>>;
  /** False when a limit cut the pass short: expired objects may remain until the next pass. */
  complete: boolean;
  /** Keys that could not be deleted, with the store's reason (at most a few). */
  failures: string[];
}

class LimitReached extends Error {}

const MAX_FAILURES = 5;

/**
 * One retention pass over a store, by partition: for each stream with a retention and each
 * namespace folder, it lists the keys in order (dates and hours oldest first), deletes this
 * writer's objects whose hour partition has expired, and stops at the first one it keeps (every
 * later one is younger). A pass costs the pages of expired keys plus one more page per namespace.
 * Idempotent: a pass after an interrupted one deletes what is left; a key already gone is no error.
 */
export async function sweep(store: PartitionStore, target: SweepTarget, nowMs: number, limits: SweepLimits): Promise<SweepResult> {
  const result: SweepResult = { streams: {}, complete: true, failures: [] };
  const budget = { lists: 0, deletes: 0 };
  const list = async (prefix: string, delimited: boolean, next: string | undefined): Promise<ListPage> => {
    if (budget.lists >= limits.maxListCalls) throw new LimitReached();
    budget.lists++;
    return store.list(prefix, delimited, next);
  };
  const folders = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    let next: string | undefined;
    do {
      const page = await list(prefix, true, next);
      out.push(...page.prefixes);
      next = page.next;
    } while (next !== undefined);
    return out.sort();
  };
  const remove = async (objects: readonly StoredObject[], stats: StreamSweep): Promise<void> => {
    for (let i = 0; i < objects.length; i += DELETE_BATCH) {
      const room = limits.maxDeletes - budget.deletes;
      if (room <= 0) throw new LimitReached();
      const batch = objects.slice(i, i + Math.min(DELETE_BATCH, room));
      budget.deletes += batch.length;
      const { failed } = await store.delete(batch.map((o) => o.key));
      const failedKeys = new Set(failed.map((f) => f.key));
      for (const f of failed) if (result.failures.length < MAX_FAILURES) result.failures.push(`${f.key}: ${f.reason}`);
      for (const o of batch) {
        if (failedKeys.has(o.key)) continue;
        stats.deletedObjects++;
        stats.deletedBytes += o.size;
      }
      if (batch.length < Math.min(DELETE_BATCH, objects.length - i)) throw new LimitReached();
    }
  };

  try {
    for (const stream of CAPTURE_STREAMS) {
      const retentionMs = target.retentionMs[stream];
      if (retentionMs === undefined) continue;
      const stats: StreamSweep = { deletedObjects: 0, deletedBytes: 0 };
      result.streams[stream] = stats;
      for (const namespace of await folders(streamPrefix(target.root, stream))) {
        // The namespace's keys in order, so dates and hours oldest first, without listing date
        // folders (a store that keeps empty folders would make every pass walk them all).
        let next: string | undefined;
        let kept = false;
        do {
          const page = await list(namespace, false, next);
          next = page.next;
          const expired: StoredObject[] = [];
          for (const object of page.objects) {
            const key = parseKey(target.root, object.key);
            if (key === undefined || key.writer !== target.writer || key.stream !== stream) continue;
            if (partitionExpired(key.hourStartMs, retentionMs, nowMs)) expired.push(object);
            else if (!kept) {
              stats.oldestKeptMs = Math.min(stats.oldestKeptMs ?? key.hourStartMs, key.hourStartMs);
              kept = true;
            }
          }
          await remove(expired, stats);
          // Once one of ours is kept, every later key of ours is younger.
        } while (next !== undefined && !kept);
      }
    }
  } catch (err) {
    if (!(err instanceof LimitReached)) throw err;
    result.complete = false;
  }
  return result;
}
