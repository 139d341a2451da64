import { revealSecrets } from './secret-value.js';
import type { Steps } from './sliced.js';

/**
 * The snapshot channel's line form: the same envelope as the JSON form, written so that a pod can
 * parse it in slices. One JSON.parse of a 5,000-route envelope held the pod's event loop 50–110 ms
 * (0.3–0.6 s at the 32 MiB limit) in one piece; parsed a line at a time, the loop is given back
 * between lines.
 *
 * Line 1 is the envelope with every non-empty array member of `snapshot` written as `[]`; each next
 * line is `[member, item]`, one item of such an array, in order. JSON strings cannot hold a raw
 * newline, so a newline outside the first line's structure only ever separates lines.
 *
 * Negotiated both ways so that a rolling upgrade keeps working: a pod that reads this form says so
 * on every answer of its admin port (SNAPSHOT_FORMATS_HEADER), and the operator pushes it only to
 * pods that said so (or on a first try whose answer lacks the header, after which it pushes JSON);
 * a pod's pull asks for it with `accept`, and the answer's content-type says which form came back
 * (an operator from before it always answers JSON).
 */
export const SNAPSHOT_LINES_TYPE = 'application/vnd.tollgate.snapshot-lines';

/** On the admin port's answers: the snapshot forms this pod reads besides JSON. */
export const SNAPSHOT_FORMATS_HEADER = 'tollgate-snapshot-formats';

/** A content-type or accept header that names the line form. */
export function namesLines(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  return value.toLowerCase().split(',').some((part) => part.split(';')[0]?.trim() === SNAPSHOT_LINES_TYPE);
}

export interface WireBodies {
  /** The envelope as one JSON document (what wireJson writes, byte for byte). */
  json: string;
  /** The line form. */
  lines: string;
}

const stringify = (value: unknown): string => JSON.stringify(value, revealSecrets);

/**
 * Both wire forms of an envelope `{ generation, term?, snapshot }`, an item (a step) at a time: the
 * items are serialised once and joined two ways. The JSON form is what JSON.stringify writes for
 * the whole envelope (arrays of items joined by commas), so pods from before the line form read
 * the same bytes as before.
 */
export function* wireBodiesSteps(envelope: { generation: number; term?: number | undefined; snapshot: object }): Steps<WireBodies> {
  const snapshot = envelope.snapshot as Record<string, unknown>;
  const head: Record<string, unknown> = {};
  const itemLines: string[] = [];
  const jsonMembers: string[] = [];
  for (const key of Object.keys(snapshot)) {
    const member = snapshot[key];
    if (!Array.isArray(member) || member.length === 0) {
      head[key] = member;
      const json = stringify(member) as string | undefined;
      // JSON.stringify leaves out members it cannot represent (undefined).
      if (json !== undefined) jsonMembers.push(`${JSON.stringify(key)}:${json}`);
      continue;
    }
    head[key] = [];
    const items: string[] = [];
    const name = JSON.stringify(key);
    for (let i = 0; i < member.length; i++) {
      // An item JSON cannot represent is null in an array, as JSON.stringify writes it.
      const item = (stringify(member[i]) as string | undefined) ?? 'null';
      items.push(item);
      itemLines.push(`[${name},${item}]`);
      yield;
    }
    jsonMembers.push(`${name}:[${items.join(',')}]`);
  }
  // Members in the envelope's own order, as JSON.stringify would write them.
  const parts = Object.keys(envelope).flatMap((key) => {
    if (key === 'snapshot') return [`"snapshot":{${jsonMembers.join(',')}}`];
    const json = stringify((envelope as Record<string, unknown>)[key]) as string | undefined;
    return json === undefined ? [] : [`${JSON.stringify(key)}:${json}`];
  });
  const first = stringify({ ...envelope, snapshot: head });
  return { json: `{${parts.join(',')}}`, lines: [first, ...itemLines].join('\n') };
}

export type LinesEnvelope = { [key: string]: unknown; snapshot: Record<string, unknown> };
export type LinesParse = { ok: true; value: LinesEnvelope } | { ok: false; error: string };

/** The envelope a line-form body carries, a line (a step) at a time; errors as values. */
export function* parseLinesSteps(text: string): Steps<LinesParse> {
  let end = text.indexOf('\n');
  if (end === -1) end = text.length;
  let head: unknown;
  try {
    head = JSON.parse(text.slice(0, end));
  } catch (err) {
    return { ok: false, error: `line 1: ${(err as Error).message}` };
  }
  if (!isObject(head) || !isObject(head.snapshot)) return { ok: false, error: 'line 1: not an envelope with a snapshot object' };
  const snapshot = head.snapshot;
  let line = 1;
  while (end < text.length) {
    const start = end + 1;
    end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    // A trailing newline ends the body; an empty line elsewhere is as wrong as any other.
    if (start === end && end === text.length) break;
    let entry: unknown;
    try {
      entry = JSON.parse(text.slice(start, end));
    } catch (err) {
      return { ok: false, error: `line ${line}: ${(err as Error).message}` };
    }
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return { ok: false, error: `line ${line}: not a [member, item] pair` };
    const list = Object.hasOwn(snapshot, entry[0]) ? snapshot[entry[0]] : undefined;
    if (!Array.isArray(list)) return { ok: false, error: `line ${line}: snapshot member ${JSON.stringify(entry[0])} is not a list of line 1` };
    list.push(entry[1]);
    yield;
  }
  return { ok: true, value: { ...head, snapshot } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
