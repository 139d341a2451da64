import { type CaptureRecord, parseContentLine, type SerialisedRecord } from './capture-record.js';

/**
 * The lines of one batch that go to one pair of objects (config/capture-layout.ts): one policy,
 * namespace and UTC hour. Its metadata lines one after the other in one buffer, its content lines
 * likewise: what a destination writes as it is (gzip, append), with no per-record object to walk.
 */
export interface LineGroup {
  policyId: string;
  namespace: string;
  /** The first record's time: the same date and hour as every other record's in the group. */
  time: string;
  /** Records in the group: one metadata line each. */
  records: number;
  metadata: Buffer;
  /** The content lines of the records that have one (modes Redacted and Full); empty when none has. */
  content: Buffer;
}

/** Bytes appended one after the other; the buffer grows by doubling, from a size the caller expects. */
class Bytes {
  buffer: Buffer;
  used = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafeSlow(size);
  }

  /** Room for `n` more bytes. */
  reserve(n: number): Buffer {
    const need = this.used + n;
    if (need > this.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.buffer.length));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    return this.buffer;
  }

  copy(from: Buffer, start: number, end: number): void {
    this.used += from.copy(this.reserve(end - start), this.used, start, end);
  }

  /**
   * `text` as UTF-8. A short one has room made for 3 bytes a UTF-16 unit (its most), with no byte
   * count first; a long one (a prompt of megabytes) is counted, so that it takes no more than it needs.
   */
  text(text: string): void {
    this.used += this.reserve(text.length > COUNTED_FROM ? Buffer.byteLength(text) : text.length * 3).write(text, this.used);
  }

  view(): Buffer {
    return this.buffer.subarray(0, this.used);
  }
}

interface OpenGroup {
  policyId: string;
  namespace: string;
  time: string;
  records: number;
  metadata: Bytes;
  content: Bytes | undefined;
}

/** How large a new group's buffers start (a batch's first group: the last batch's largest, see LineBatch). */
export interface LineBatchSizes {
  metadata: number;
  content: number;
}

const SMALLEST = 4 * 1024;
/** Texts longer than this (UTF-16 units) are byte-counted before they are written (Bytes.text). */
const COUNTED_FROM = 64 * 1024;
const LARGEST_START = 4 * 1024 * 1024;

/**
 * A batch being filled: each record's lines copied, as they come, to the end of its group's
 * buffers. The queues hold these, not records: a waiting record is bytes in a buffer outside the
 * JavaScript heap, not objects and views the collector walks and copies, and a destination gets its
 * groups with nothing left to gather or concatenate.
 */
export class LineBatch {
  private readonly groups: OpenGroup[] = [];
  private readonly byKey = new Map<string, OpenGroup>();
  private last: OpenGroup | undefined;
  records = 0;
  bytes = 0;

  constructor(private readonly sizes: LineBatchSizes = { metadata: SMALLEST, content: SMALLEST }) {}

  /** Appends a record's lines as it holds them; returns the bytes appended. */
  add(record: SerialisedRecord): number {
    const group = this.groupFor(record.policyId, record.namespace, record.time);
    const before = this.size(group);
    group.metadata.copy(record.metadata, 0, record.metadata.length);
    if (record.content !== undefined) this.contentOf(group).copy(record.content, 0, record.content.length);
    return this.added(group, before);
  }

  /**
   * Appends a record whose metadata line is `from[start, metadataEnd)` and whose content line is
   * `from[metadataEnd, headEnd)` followed by `rest` (UTF-8 of the content's head as it came, then the
   * redacted rest as text: the capture worker's form), or none when `rest` is undefined. Returns the
   * bytes appended.
   */
  addParts(policyId: string, namespace: string, time: string, from: Buffer, start: number, metadataEnd: number, headEnd: number, rest: string | undefined): number {
    const group = this.groupFor(policyId, namespace, time);
    const before = this.size(group);
    group.metadata.copy(from, start, metadataEnd);
    if (rest !== undefined) {
      const content = this.contentOf(group);
      content.copy(from, metadataEnd, headEnd);
      content.text(rest);
    }
    return this.added(group, before);
  }

  /** The groups in the order their first records came, each a view of its buffers. */
  lineGroups(): LineGroup[] {
    return this.groups.map((g) => ({ policyId: g.policyId, namespace: g.namespace, time: g.time, records: g.records, metadata: g.metadata.view(), content: g.content?.view() ?? EMPTY }));
  }

  /** The sizes a next batch's groups should start at: this one's largest (bounded). */
  nextSizes(): LineBatchSizes {
    let metadata = SMALLEST;
    let content = SMALLEST;
    for (const g of this.groups) {
      metadata = Math.max(metadata, g.metadata.used);
      content = Math.max(content, g.content?.used ?? 0);
    }
    return { metadata: Math.min(metadata, LARGEST_START), content: Math.min(content, LARGEST_START) };
  }

  private groupFor(policyId: string, namespace: string, time: string): OpenGroup {
    // Most records go where the one before went: compared field by field, with no key built for them.
    const last = this.last;
    if (last !== undefined && last.policyId === policyId && last.namespace === namespace && sameHour(last.time, time)) return last;
    // "2026-12-05T03": the partition's date and hour. Policy ids and namespaces hold no newline.
    const key = `${policyId}\n${namespace}\n${time.slice(0, 13)}`;
    let group = this.byKey.get(key);
    if (group === undefined) {
      // Only the first group of a batch starts at the expected size; further ones are most often a few records (an hour's turn).
      const first = this.groups.length === 0;
      group = { policyId, namespace, time, records: 0, metadata: new Bytes(first ? this.sizes.metadata : SMALLEST), content: undefined };
      this.groups.push(group);
      this.byKey.set(key, group);
    }
    this.last = group;
    return group;
  }

  private contentOf(group: OpenGroup): Bytes {
    group.content ??= new Bytes(this.groups[0] === group ? this.sizes.content : SMALLEST);
    return group.content;
  }

  private size(group: OpenGroup): number {
    return group.metadata.used + (group.content?.used ?? 0);
  }

  private added(group: OpenGroup, before: number): number {
    group.records++;
    this.records++;
    const n = this.size(group) - before;
    this.bytes += n;
    return n;
  }
}

const EMPTY = Buffer.alloc(0);

/** Two RFC 3339 times of the same date and hour (their first 13 characters; a shorter time never matches here, the key decides). */
function sameHour(a: string, b: string): boolean {
  if (a.length < 13 || b.length < 13) return false;
  for (let i = 0; i < 13; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

/** Records grouped as a queue groups them (tests, tools, a destination's warm-up). */
export function lineGroups(records: readonly SerialisedRecord[]): LineGroup[] {
  const batch = new LineBatch();
  for (const r of records) batch.add(r);
  return batch.lineGroups();
}

/** Each line of `bytes` (newline-terminated JSON Lines), without its newline. */
function lines(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length; ) {
    let end = bytes.indexOf(10, at);
    if (end === -1) end = bytes.length;
    out.push(bytes.toString('utf8', at, end));
    at = end + 1;
  }
  return out;
}

/**
 * The records back from their groups (the OTLP destination sends each whole). A record has a
 * content line exactly when its metadata line's mode is not Metadata, and its content line comes in
 * the same order among the group's content lines as its metadata line among the metadata lines.
 */
export function parseGroups(groups: readonly LineGroup[]): CaptureRecord[] {
  const records: CaptureRecord[] = [];
  for (const group of groups) {
    const contents = lines(group.content);
    let next = 0;
    for (const line of lines(group.metadata)) {
      const record = JSON.parse(line) as CaptureRecord;
      if (record.policy.mode !== 'Metadata') {
        const content = contents[next++];
        if (content === undefined) throw new Error(`record ${record.requestId}: no content line`);
        record.content = parseContentLine(content);
      }
      records.push(record);
    }
    if (next !== contents.length) throw new Error(`${contents.length - next} content lines without their record`);
  }
  return records;
}
