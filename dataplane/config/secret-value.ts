import { inspect } from 'node:util';
import { z } from 'zod';

export const REDACTED = '[redacted]';

/**
 * A credential inside the snapshot. It renders as "[redacted]" through every generic output path
 * (JSON.stringify and so pino and express, util.inspect and console, template strings and String()),
 * so no output needs to know which fields are secret. Only `reveal()` gives the value, and only the
 * code that sends it upstream (or puts it on the wire to a data plane) calls it.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

export const secret = (value: string): SecretValue => new SecretValue(value);

/** A secret field: a string on the wire, a SecretValue in memory (already-wrapped values pass through). */
export function secretSchema(inner: z.ZodType<string> = z.string().min(1)): z.ZodType<SecretValue> {
  return z.union([z.instanceof(SecretValue), inner.transform((s) => new SecretValue(s))]);
}

/**
 * JSON.stringify replacer that writes secrets in clear: only for the operator→data-plane channel and
 * the content hash. A plain function so that `this[key]` is the value before toJSON ran.
 */
export function revealSecrets(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof SecretValue ? raw.reveal() : value;
}

/** The wire form of a snapshot or envelope: secrets in clear (the channel is authenticated, TLS by default). */
export function wireJson(value: unknown): string {
  return JSON.stringify(value, revealSecrets);
}
