/** OpenAI `stop` (a string or a list) → stop sequences; undefined when there are none. */
export function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.length > 0) return stop.filter((s): s is string => typeof s === 'string');
  return undefined;
}
