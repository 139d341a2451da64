/**
 * `text` cut to at most `max` UTF-16 units, never between the two halves of a surrogate pair: a
 * half pair is not valid UTF-16, and the API server stores it as a replacement character (an emoji
 * in a name at the cut would become `�`).
 */
export function cutWithin(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
