import type { TextSlot } from './content-text.js';
import type { Span } from './span.js';

/** What a span rule finds across the joins of a body's slots, as pieces of each slot. */
export interface AcrossJoins {
  /** The matches that cross from one slot into the next (in the joined text's positions), one each. */
  crossing: Span[];
  /** By slot: the pieces of those matches in it; the piece where a match starts carries its marker, the others none (they are emptied). */
  pieces: Span[][];
}

/**
 * The matches of `scan` over each run of joined slots (a slot with `joins` and the ones before it:
 * the text parts of one message, which the model reads as one text) that cross from one slot into
 * the next. A match wholly inside one slot is left out: that slot's own scan (`own`, by slot) finds
 * it; so is one that overlaps such a match (the parts' own boundary ended it: `ann@example.com`
 * then `and …` is no address `…comand`). Undefined when no match crosses (and, without
 * allocating, when no slot joins the one before it).
 */
export function acrossJoins(slots: readonly TextSlot[], texts: readonly string[], own: readonly (readonly Span[])[], scan: (text: string, json: boolean) => Span[]): AcrossJoins | undefined {
  if (!slots.some((s) => s.joins === true)) return undefined;
  let out: AcrossJoins | undefined;
  for (let first = 0; first < slots.length; ) {
    let end = first + 1;
    while (end < slots.length && slots[end]?.joins === true) end++;
    if (end - first > 1) {
      const offsets: number[] = [];
      let joined = '';
      for (let k = first; k < end; k++) {
        offsets.push(joined.length);
        joined += texts[k] ?? '';
      }
      // The slot of a position in the joined text (its last slot that starts at or before it).
      const slotAt = (at: number): number => {
        let k = offsets.length - 1;
        while (k > 0 && (offsets[k] ?? 0) > at) k--;
        return k;
      };
      for (const span of scan(joined, slots[first]?.json === true)) {
        const a = slotAt(span.start);
        const b = slotAt(span.end - 1);
        if (a === b) continue;
        let overlaps = false;
        for (let k = a; k <= b && !overlaps; k++) {
          const from = offsets[k] ?? 0;
          overlaps = (own[first + k] ?? []).some((o) => o.start + from < span.end && o.end + from > span.start);
        }
        if (overlaps) continue;
        out ??= { crossing: [], pieces: slots.map(() => []) };
        out.crossing.push(span);
        for (let k = a; k <= b; k++) {
          const from = offsets[k] ?? 0;
          const length = (texts[first + k] ?? '').length;
          out.pieces[first + k]?.push({ ...span, marker: k === a ? span.marker : '', start: Math.max(0, span.start - from), end: Math.min(length, span.end - from) });
        }
      }
    }
    first = end;
  }
  return out;
}

/** `spans` and `pieces` as one list in text order, overlapping ones made one (keeping a marker where either has one). */
export function withPieces(spans: readonly Span[], pieces: readonly Span[]): Span[] {
  if (pieces.length === 0) return [...spans];
  const all = [...spans, ...pieces].sort((x, y) => x.start - y.start || y.end - x.end);
  const merged: Span[] = [];
  for (const s of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && s.start < last.end) {
      merged[merged.length - 1] = { ...last, end: Math.max(last.end, s.end), marker: last.marker === '' ? s.marker : last.marker };
      continue;
    }
    merged.push(s);
  }
  return merged;
}
