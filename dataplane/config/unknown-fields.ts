import type { Steps } from './sliced.js';

/**
 * The first member of `raw` that parsing dropped, as a path (`routes.3.access.apiKeys.namespaces`),
 * or undefined when every member was kept. zod objects drop members they do not know; a snapshot
 * from a newer operator then loses what it adds, and a field that restricts (an access rule, a
 * guardrail) would be served as if absent: a data plane older than its operator failing open. Walks
 * the two values side by side: plain objects member by member, arrays item by item; a parsed value
 * that is not a plain object (a SecretValue a string became) is a leaf.
 */
export function droppedField(raw: unknown, parsed: unknown, path: readonly (string | number)[] = []): string | undefined {
  if (Array.isArray(raw)) {
    if (!Array.isArray(parsed)) return undefined;
    for (let i = 0; i < raw.length; i++) {
      const dropped = droppedField(raw[i], parsed[i], [...path, i]);
      if (dropped !== undefined) return dropped;
    }
    return undefined;
  }
  if (!isPlainObject(raw) || !isPlainObject(parsed)) return undefined;
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(parsed, key)) return [...path, key].join('.');
    const dropped = droppedField(raw[key], parsed[key], [...path, key]);
    if (dropped !== undefined) return dropped;
  }
  return undefined;
}

/**
 * droppedField over a snapshot, one step per item of its top-level arrays (so that it can run in
 * slices); the same answer, found in the same order.
 */
export function* droppedFieldSteps(raw: unknown, parsed: unknown): Steps<string | undefined> {
  if (!isPlainObject(raw) || !isPlainObject(parsed)) return droppedField(raw, parsed);
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(parsed, key)) return key;
    const rawMember = raw[key];
    const parsedMember = parsed[key];
    if (!Array.isArray(rawMember) || !Array.isArray(parsedMember)) {
      const dropped = droppedField(rawMember, parsedMember, [key]);
      if (dropped !== undefined) return dropped;
      continue;
    }
    for (let i = 0; i < rawMember.length; i++) {
      const dropped = droppedField(rawMember[i], parsedMember[i], [key, i]);
      if (dropped !== undefined) return dropped;
      yield;
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
