/**
 * What each namespace holds of one bounded capture queue, so that no namespace holds more than half
 * of it (records or bytes). One policy's queue may carry many namespaces' records (a platform-wide
 * DataPolicy, and the capture worker's hand-over carries every policy's): without a share, one
 * tenant's burst, or a run of megabyte prompts, fills the queue and every other tenant's records are
 * dropped with it. With it, that tenant's records are dropped at its share, and the rest of the queue
 * stays free for everyone else's.
 */
export class NamespaceShares {
  private readonly held = new Map<string, { records: number; bytes: number }>();
  private readonly maxRecords: number;
  private readonly maxBytes: number;

  /** Shares of a queue bounded at `maxRecords` records and `maxBytes` bytes. */
  constructor(maxRecords: number, maxBytes: number) {
    // At least one record: a queue of one still takes a record of a namespace that holds none.
    this.maxRecords = Math.max(1, Math.floor(maxRecords / 2));
    this.maxBytes = Math.floor(maxBytes / 2);
  }

  /** `namespace` may add `records` more records of `bytes` more bytes. */
  admits(namespace: string, records: number, bytes: number): boolean {
    const held = this.held.get(namespace);
    if (held === undefined) return records <= this.maxRecords && bytes <= this.maxBytes;
    return held.records + records <= this.maxRecords && held.bytes + bytes <= this.maxBytes;
  }

  /** Bytes `namespace` may still add. */
  bytesLeft(namespace: string): number {
    return this.maxBytes - (this.held.get(namespace)?.bytes ?? 0);
  }

  add(namespace: string, records: number, bytes: number): void {
    const held = this.held.get(namespace);
    if (held === undefined) this.held.set(namespace, { records, bytes });
    else {
      held.records += records;
      held.bytes += bytes;
    }
  }

  /** What left the queue; a namespace that holds nothing is forgotten (the map holds only namespaces with records queued). */
  remove(namespace: string, records: number, bytes: number): void {
    const held = this.held.get(namespace);
    if (held === undefined) return;
    held.records -= records;
    held.bytes -= bytes;
    if (held.records <= 0) this.held.delete(namespace);
  }

  clear(): void {
    this.held.clear();
  }
}
