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
 * a lookup by first word: linear in the text, whatever the number of phrases.
 */
export class DenyList {
  private readonly byFirstWord = new Map<string, string[][]>();

  constructor(phrases: readonly string[]) {
    for (const phrase of phrases) {
      const parts = words(phrase).map((w) => w.text);
      const first = parts[0];
      if (first === undefined) continue;
      const list = this.byFirstWord.get(first) ?? [];
      list.push(parts);
      this.byFirstWord.set(first, list);
    }
    // Longest phrase first, so "project falcon x" wins over "project falcon".
    for (const list of this.byFirstWord.values()) list.sort((a, b) => b.length - a.length);
  }

  find(text: string): Span[] {
    const ws = words(text);
    const spans: Span[] = [];
    for (let i = 0; i < ws.length; i++) {
      const candidates = this.byFirstWord.get(ws[i]?.text ?? '');
      if (candidates === undefined) continue;
      const hit = candidates.find((parts) => parts.every((p, k) => ws[i + k]?.text === p));
      if (hit === undefined) continue;
      const last = ws[i + hit.length - 1];
      spans.push({ type: 'DenyList', marker: DENIED_MARKER, start: ws[i]?.start ?? 0, end: last?.end ?? 0 });
      i += hit.length - 1;
    }
    return spans;
  }
}
