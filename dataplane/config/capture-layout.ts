/**
 * Where capture records are stored, shared by the writers (the data plane's S3 and local-directory
 * destinations) and the retention sweep (the operator, and `tollgate dev`):
 *
 *   <root>/<stream>/namespace=<ns>/date=<YYYY-MM-DD>/hour=<HH>/<writer>_<batch>.jsonl.gz   (S3)
 *   <root>/<stream>/namespace=<ns>/date=<YYYY-MM-DD>/hour=<HH>/<writer>.jsonl              (local directory)
 *
 * `stream` is `metadata` or `content`, so that content can expire before its metadata; the partition
 * is the UTC hour the request arrived in, so that age is read from the key, never from the object;
 * `writer` names the DataPolicy that wrote the object, so that policies sharing a bucket each
 * expire only their own objects.
 */

export const CAPTURE_STREAMS = ['metadata', 'content'] as const;
export type CaptureStream = (typeof CAPTURE_STREAMS)[number];

const HOUR_MS = 3_600_000;

/** A namespace is a DNS label already; this keeps a key or path segment one segment whatever it is. */
export function safeSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
}

/** `<root>/<stream>/` (root without a trailing slash; empty for the bucket's top). */
export function streamPrefix(root: string, stream: CaptureStream): string {
  return `${root === '' ? '' : `${root}/`}${stream}/`;
}

/** The partition of a record that arrived at `time` (RFC 3339, UTC). */
export function partitionPrefix(root: string, stream: CaptureStream, namespace: string, time: string): string {
  return `${streamPrefix(root, stream)}namespace=${safeSegment(namespace)}/date=${time.slice(0, 10)}/hour=${time.slice(11, 13)}/`;
}

/** A DataPolicy id (`namespace/name`) as the writer part of an object name; DNS names hold no "_". */
export function writerTag(policyId: string): string {
  return safeSegment(policyId.replace('/', '.')).replace(/_/g, '-');
}

/** An object's name in its partition: the writer, then what keeps it unique among that writer's objects. */
export function objectName(policyId: string, unique: string | undefined, extension: string): string {
  return `${writerTag(policyId)}${unique === undefined ? '' : `_${unique}`}${extension}`;
}

/** One stored object, as its key tells it. */
export interface PartitionedKey {
  stream: CaptureStream;
  namespace: string;
  /** YYYY-MM-DD */
  date: string;
  /** When the partition's hour starts (epoch ms); every record in it arrived before this plus an hour. */
  hourStartMs: number;
  /** The writer tag; undefined for a name that does not follow the layout. */
  writer: string | undefined;
}

const PARTITION = /^(metadata|content)\/namespace=([A-Za-z0-9._-]+)\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/]+)$/;

/** Reads a key below `<root>/`; undefined for anything that does not follow the layout (never swept). */
export function parseKey(root: string, key: string): PartitionedKey | undefined {
  const head = root === '' ? '' : `${root}/`;
  if (!key.startsWith(head)) return undefined;
  const m = PARTITION.exec(key.slice(head.length));
  if (m === null) return undefined;
  const hourStartMs = Date.parse(`${m[3]}T${m[4]}:00:00Z`);
  if (Number.isNaN(hourStartMs)) return undefined;
  const name = m[5] as string;
  const writer = /^([A-Za-z0-9.-]+)(?:_[^/]*|\.jsonl(?:\.gz)?)$/.exec(name)?.[1];
  return { stream: m[1] as CaptureStream, namespace: m[2] as string, date: m[3] as string, hourStartMs, writer };
}

/** Expired: every record the partition can hold arrived more than `retentionMs` ago. */
export function partitionExpired(hourStartMs: number, retentionMs: number, nowMs: number): boolean {
  return hourStartMs + HOUR_MS + retentionMs <= nowMs;
}
