/** A piece of text a detector found: what it is, what replaces it when masked, and where it is. */
export interface Span {
  type: string;
  marker: string;
  start: number;
  end: number;
}

/** Replaces each span (in text order, not overlapping) by its marker. */
export function maskSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue;
    parts.push(text.slice(at, s.start), s.marker);
    at = s.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/** Findings per type, e.g. `{ Email: 2, PaymentCard: 1 }`: what a decision reports instead of the content. */
export function countTypes(spans: readonly Span[], into: Record<string, number> = {}): Record<string, number> {
  // Own counts only: a custom pattern may be named `constructor` or `toString` (Object.prototype's).
  for (const s of spans) into[s.type] = (Object.hasOwn(into, s.type) ? (into[s.type] as number) : 0) + 1;
  return into;
}
