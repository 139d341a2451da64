import { inspect } from 'node:util';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from './content-hash.js';
import { secret, SecretValue, secretSchema, wireJson } from './secret-value.js';

describe('SecretValue', () => {
  const holder = { provider: { apiKey: secret('sk-very-secret') } };

  it('renders as [redacted] through every generic output', () => {
    expect(JSON.stringify(holder)).toBe('{"provider":{"apiKey":"[redacted]"}}');
    expect(inspect(holder, { depth: 5 })).not.toContain('sk-very');
    expect(`${holder.provider.apiKey}`).toBe('[redacted]');
    expect(String(holder.provider.apiKey)).toBe('[redacted]');
    expect(JSON.stringify({ ...holder.provider.apiKey })).toBe('{}');
    expect(Object.keys(holder.provider.apiKey)).toEqual([]);
    let line = '';
    const logger = pino(
      new Writable({
        write(chunk: Buffer, _e, done) {
          line += chunk.toString();
          done();
        },
      }),
    );
    logger.info({ holder, err: new Error(`failed with ${holder.provider.apiKey}`) }, 'log');
    expect(line).not.toContain('sk-very');
  });

  it('is revealed on the wire and in the content hash only', () => {
    expect(wireJson(holder)).toBe('{"provider":{"apiKey":"sk-very-secret"}}');
    expect(canonicalJson(holder)).toContain('sk-very-secret');
    expect(contentHash({ k: secret('a') })).not.toBe(contentHash({ k: secret('b') }));
  });

  it('parses from a string (wire) or passes through (in process)', () => {
    const schema = secretSchema();
    const parsed = schema.parse('abc');
    expect(parsed).toBeInstanceOf(SecretValue);
    expect(parsed.reveal()).toBe('abc');
    expect(schema.parse(parsed)).toBe(parsed);
    expect(schema.safeParse('').success).toBe(false);
  });
});
