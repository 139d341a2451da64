import { DEFAULT_DETECTOR_LIMITS, type DetectorLimits } from '../detectors/detector-types.js';
import { fold, unfoldAt } from '../detectors/index.js';
import type { Span } from './span.js';

export const DENIED_MARKER = '[DENIED]';
const WORD = /[\p{L}\p{N}_]+/gu;

interface Word {
  text: string;
  start: number;
  end: number;
}

function words(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(WORD)) out.push({ text: m[0].toLocaleLowerCase('en-US'), start: m.index, end: m.index + m[0].length });
  return out;
}

/**
 * Words and phrases matched case-insensitively as whole words; whatever separates the words of a
 * phrase (spaces, punctuation, line breaks) does not matter. One pass over the text's words with
 * a lookup by first word: linear in the text, whatever the number of phrases. Text and phrases are
 * folded as the detectors fold them (text-fold.ts): `ＦＡＬＣＯＮ`, `fal\u200bcon` and `٤٢` match
 * `falcon` and `42`; before, a full-width letter or an invisible character inside a word let it by.
 */
export class DenyList {
  private readonly byFirstWord = new Map<string, string[][]>();
  private longest = 1;

  constructor(
    phrases: readonly string[],
    private readonly limits: Pick<DetectorLimits, 'maxInputLength' | 'maxMatches'> = DEFAULT_DETECTOR_LIMITS,
  ) {
    for (const phrase of phrases) {
      const parts = words(fold(phrase)?.text ?? phrase).map((w) => w.text);
      const first = parts[0];
      if (first === undefined) continue;
      const list = this.byFirstWord.get(first) ?? [];
      list.push(parts);
      this.longest = Math.max(this.longest, parts.length);
      this.byFirstWord.set(first, list);
    }
    // Longest phrase first, so "project falcon x" wins over "project falcon".
    for (const list of this.byFirstWord.values()) list.sort((a, b) => b.length - a.length);
  }

  /**
   * The phrases found, within the built-in detectors' limits: at most maxInputLength characters are
   * read and maxMatches found (`complete` false past either, as the detectors say), and only the
   * words a phrase can still span are held: a 9.5 MB message made an object for every word before.
   */
  find(text: string): { spans: Span[]; complete: boolean; scannedLength: number } {
    const cut = text.length > this.limits.maxInputLength ? text.slice(0, this.limits.maxInputLength) : text;
    const folded = fold(cut);
    const found = this.findIn(folded?.text ?? cut, cut.length === text.length);
    if (folded === undefined || folded.from.length === 0) return found;
    // Positions in the folded text, as positions in the text as written (a span takes in what was left out inside it and after it).
    const at = (i: number): number => unfoldAt(folded, i);
    return { spans: found.spans.map((s) => ({ ...s, start: at(s.start), end: at(s.end) })), complete: found.complete, scannedLength: at(found.scannedLength) };
  }

  private findIn(input: string, whole: boolean): { spans: Span[]; complete: boolean; scannedLength: number } {
    const spans: Span[] = [];
    const pending: Word[] = [];
    // The phrase starting at pending[0], if any: its words are dropped, else the first word alone.
    const step = (): boolean => {
      const first = pending[0] as Word;
      const hit = this.byFirstWord.get(first.text)?.find((parts) => parts.every((p, k) => pending[k]?.text === p));
      if (hit === undefined) {
        pending.shift();
        return true;
      }
      spans.push({ type: 'DenyList', marker: DENIED_MARKER, start: first.start, end: (pending[hit.length - 1] as Word).end });
      pending.splice(0, hit.length);
      return spans.length < this.limits.maxMatches;
    };
    const word = new RegExp(WORD.source, WORD.flags);
    for (let m = word.exec(input); m !== null; m = word.exec(input)) {
      pending.push({ text: m[0].toLocaleLowerCase('en-US'), start: m.index, end: m.index + m[0].length });
      if (pending.length >= this.longest && !step()) return { spans, complete: false, scannedLength: spans.at(-1)?.end ?? 0 };
    }
    while (pending.length > 0) if (!step()) return { spans, complete: false, scannedLength: spans.at(-1)?.end ?? 0 };
    return { spans, complete: whole, scannedLength: input.length };
  }
}
