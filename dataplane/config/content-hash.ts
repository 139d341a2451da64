import { createHash } from 'node:crypto';
import { SecretValue } from './secret-value.js';
import { runToEnd, type Steps } from './sliced.js';

/**
 * JSON with object keys sorted, so that equal content always serialises to equal bytes. Secrets
 * count with their values: a rotated credential is a new snapshot version.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof SecretValue) return raw.reveal();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function contentHash(value: unknown): string {
  return runToEnd(contentHashSteps(value));
}

/**
 * contentHash, hashing the members of a plain object one by one and the items of its arrays one by
 * one (a step each): the bytes hashed are canonicalJson's, in pieces, so that a large snapshot's
 * hash can run in slices.
 */
export function* contentHashSteps(value: unknown): Steps<string> {
  const hash = createHash('sha256');
  if (!isPlainObject(value)) {
    // canonicalJson of a value JSON cannot represent (undefined) is undefined; update() refuses it as before.
    hash.update(canonicalJson(value));
    return hash.digest('hex').slice(0, 16);
  }
  hash.update('{');
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const member = value[key];
    if (!Array.isArray(member)) {
      const json = canonicalJson(member) as string | undefined;
      // JSON.stringify leaves out members whose value it cannot represent.
      if (json === undefined) continue;
      hash.update(`${first ? '' : ','}${JSON.stringify(key)}:${json}`);
      first = false;
      continue;
    }
    hash.update(`${first ? '' : ','}${JSON.stringify(key)}:[`);
    first = false;
    for (let i = 0; i < member.length; i++) {
      // ...and writes null for an array item it cannot represent.
      hash.update(`${i === 0 ? '' : ','}${(canonicalJson(member[i]) as string | undefined) ?? 'null'}`);
      yield;
    }
    hash.update(']');
  }
  hash.update('}');
  return hash.digest('hex').slice(0, 16);
}

/** Only these are hashed member by member: anything else (a SecretValue, an object with toJSON) as canonicalJson writes it. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** The version a snapshot must carry: the hash of everything but the version itself. */
export function expectedVersion(snapshot: Record<string, unknown>): string {
  return runToEnd(expectedVersionSteps(snapshot));
}

export function expectedVersionSteps(snapshot: Record<string, unknown>): Steps<string> {
  const { version: _version, ...content } = snapshot;
  return contentHashSteps(content);
}
