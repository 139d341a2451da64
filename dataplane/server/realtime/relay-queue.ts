import type { RawData, WebSocket } from 'ws';

/**
 * Bytes one side of a connection may have queued for sending before the other side's reading
 * pauses: a side that does not read (a client that never does, an upstream flooding it) would
 * otherwise have every message queued in the gateway's memory. A single message (up to 16 MiB)
 * still goes out whole. Before, 32 MiB per direction: a hundred connections per route that do not
 * read were gigabytes.
 */
export const CONNECTION_HIGH_WATER_BYTES = 1024 * 1024;
const CONNECTION_LOW_WATER_BYTES = CONNECTION_HIGH_WATER_BYTES / 4;

/** Bytes all Realtime connections of the pod may have queued before every relay's reading pauses. */
export const POD_HIGH_WATER_BYTES = 64 * 1024 * 1024;

function byteLength(data: RawData | string): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

/**
 * What the pod's Realtime connections have queued for sending, and the relay that bounds it: per
 * connection (CONNECTION_HIGH_WATER_BYTES) and over the pod (`podHighWater`), the reading side
 * paused until the queue has gone down to a quarter of the limit it passed.
 */
export class RelayQueue {
  private total = 0;
  /** Sides paused for the pod's limit, with the side each sends to (resumed only once that one is not behind either). */
  private readonly paused = new Map<WebSocket, WebSocket>();

  constructor(readonly podHighWater = POD_HIGH_WATER_BYTES) {}

  /** Bytes queued for sending over every connection. */
  get queued(): number {
    return this.total;
  }

  /** Sends `data` from one side to the other, pausing the reading of `from` while `to`, or the pod, is behind. */
  relay(from: WebSocket, to: WebSocket, data: RawData | string, binary: boolean): void {
    const size = byteLength(data);
    this.total += size;
    // Called once written out, or with an error when the socket closed first: either way no longer queued.
    to.send(data, { binary }, () => {
      this.total -= size;
      const podCaughtUp = this.total <= this.podHighWater / 4;
      if (from.isPaused && to.bufferedAmount <= CONNECTION_LOW_WATER_BYTES && (podCaughtUp || !this.paused.has(from))) {
        this.paused.delete(from);
        from.resume();
      }
      if (!podCaughtUp) return;
      for (const [side, target] of this.paused) {
        if (target.bufferedAmount > CONNECTION_LOW_WATER_BYTES) continue;
        this.paused.delete(side);
        side.resume();
      }
    });
    if (this.total > this.podHighWater) {
      this.paused.set(from, to);
      from.pause();
    } else if (to.bufferedAmount > CONNECTION_HIGH_WATER_BYTES) from.pause();
  }

  /** A connection ended: its sides are not waited on any more. */
  forget(side: WebSocket): void {
    this.paused.delete(side);
  }
}
