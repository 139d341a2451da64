import type { ScanResult } from './detector-types.js';

/**
 * Characters that look like (or hide inside) what the detectors match but are not what their
 * patterns name: no-break and narrow no-break spaces grouping a card's digits, full-width digits,
 * and invisible characters (zero-width space, non-joiner, joiner, word joiner, soft hyphen) put
 * inside an e-mail address or a number. A reader (a model, a person) reads through them, so the
 * detectors do too: a text holding any is scanned folded (spaces as spaces, digits as ASCII digits,
 * invisible characters left out) and what is found is mapped back onto the text as written.
 */
export const FOLDED = /[\u00a0\u00ad\u200b-\u200d\u2060\u202f\uff10-\uff19]/;

export interface Folded {
  text: string;
  /** Where each folded character is in the original; one more entry, the original's length, at the end. */
  at: number[];
}

/** The text folded, or undefined when it holds nothing to fold (most texts: one test, no copy). */
export function fold(text: string): Folded | undefined {
  if (!FOLDED.test(text)) return undefined;
  const parts: string[] = [];
  const at: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xad || (c >= 0x200b && c <= 0x200d) || c === 0x2060) continue;
    at.push(i);
    if (c === 0xa0 || c === 0x202f) parts.push(' ');
    else if (c >= 0xff10 && c <= 0xff19) parts.push(String.fromCharCode(c - 0xff10 + 0x30));
    else parts.push(text.charAt(i));
  }
  at.push(text.length);
  return { text: parts.join(''), at };
}

/** A scan of the folded text as positions in the original (a finding ends where the next kept character starts). */
export function unfold(result: ScanResult, folded: Folded): ScanResult {
  const to = (i: number): number => folded.at[i] ?? folded.at[folded.at.length - 1] ?? 0;
  return { ...result, findings: result.findings.map((f) => ({ ...f, start: to(f.start), end: to(f.end) })), scannedLength: to(result.scannedLength) };
}
