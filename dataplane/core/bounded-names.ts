/**
 * Names a check reported (moderation categories, finding types) as they may be shown: in a client's
 * error, a span event, the access log, /debug/route. A moderation service without a configured
 * category list names whatever it likes, so what is shown is bounded here and not by the service:
 * at most as many names and as long as a rule may list itself (GuardrailPolicy `categories`).
 */
export const MAX_SHOWN_NAMES = 32;
export const MAX_SHOWN_NAME_LENGTH = 128;

function shown(name: string): string {
  return name.length <= MAX_SHOWN_NAME_LENGTH ? name : `${name.slice(0, MAX_SHOWN_NAME_LENGTH - 1)}…`;
}

/**
 * At most MAX_SHOWN_NAMES entries, each at most MAX_SHOWN_NAME_LENGTH characters: past the limit the
 * last entry counts the rest (`+12 more`). A list already within bounds is returned as it is, so
 * bounding twice changes nothing (the cost is a length check per name).
 */
export function boundedNames(names: readonly string[]): string[] {
  let within = names.length <= MAX_SHOWN_NAMES;
  for (let i = 0; within && i < names.length; i++) within = (names[i] as string).length <= MAX_SHOWN_NAME_LENGTH;
  if (within) return names as string[];
  if (names.length <= MAX_SHOWN_NAMES) return names.map(shown);
  const kept = names.slice(0, MAX_SHOWN_NAMES - 1).map(shown);
  kept.push(`+${names.length - kept.length} more`);
  return kept;
}
