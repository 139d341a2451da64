/** The longest header token (a content-encoding, a charset) an error quotes: real ones are far shorter. */
export const MAX_SHOWN_TOKEN = 64;

/**
 * A header token from a caller or an upstream as an error quotes it: a header is bounded only by
 * node's header limit (16 KB) and may carry any byte, so it is cut and all but printable ASCII shown
 * as `?`.
 */
export function shownToken(value: string): string {
  const shown = value.slice(0, MAX_SHOWN_TOKEN).replace(/[^\x20-\x7e]/g, '?');
  return value.length > MAX_SHOWN_TOKEN ? `${shown}…` : shown;
}
