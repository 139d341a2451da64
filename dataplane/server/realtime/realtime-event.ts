import { isObject } from '../../providers/shared/json-guards.js';

/**
 * A Realtime message as an event of one of `types`, else undefined. Only a text that names one of
 * them is parsed: most messages are audio deltas, and parsing every one cost more than relaying it.
 */
export function realtimeEvent(text: string, types: string | readonly string[]): Record<string, unknown> | undefined {
  const wanted = typeof types === 'string' ? [types] : types;
  if (!wanted.some((t) => text.includes(`"${t}"`))) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isObject(event) && typeof event.type === 'string' && wanted.includes(event.type) ? event : undefined;
}
