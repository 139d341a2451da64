import { createHash } from 'node:crypto';
import { SecretValue } from './secret-value.js';

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
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** The version a snapshot must carry: the hash of everything but the version itself. */
export function expectedVersion(snapshot: Record<string, unknown>): string {
  const { version: _version, ...content } = snapshot;
  return contentHash(content);
}
