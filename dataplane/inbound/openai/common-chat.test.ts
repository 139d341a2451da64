import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../core/canonical.js';
import { commonChat } from './common-chat.js';
import { REQUEST_SCHEMAS } from './request-schemas.js';

const count = [undefined, null, 1, 32, 0, -1, 1.5, 2 ** 53, 2 ** 53 - 1, '5', true];
const variants: Record<string, unknown[]> = {
  model: ['gpt-4o', '', 1, null, undefined, ['gpt-4o'], {}],
  messages: [
    [{ role: 'user', content: 'hi' }],
    [{ role: 'system', content: 'x' }, { role: 'user', content: [{ type: 'text', text: 'y' }] }],
    [],
    [{ role: '' }],
    [{}],
    [null],
    ['user'],
    [[{ role: 'user' }]],
    [{ role: 'user' }, { role: 3 }],
    undefined,
    null,
    { role: 'user' },
    'hi',
  ],
  stream: [undefined, null, true, false, 'true', 1],
  stream_options: [undefined, null, {}, { include_usage: true }, { include_usage: false }, { include_usage: null }, { include_usage: 'yes' }, { other: 1 }, [], 'x'],
  max_tokens: count,
  max_completion_tokens: count,
  n: count,
  temperature: [undefined, 0.2, 'hot'],
};
const base: Record<string, unknown> = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

function body(fields: Record<string, unknown>): JsonObject {
  // Absent, not undefined: the body comes from JSON.parse.
  return JSON.parse(JSON.stringify(fields)) as JsonObject;
}

/** Every field's every variant on a valid body, then seeded random mixes of all fields. */
function corpus(): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [name, values] of Object.entries(variants)) for (const v of values) out.push(body({ ...base, [name]: v }));
  let seed = 15;
  const pick = <T>(xs: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return xs[seed % xs.length] as T;
  };
  for (let i = 0; i < 3000; i++) out.push(body(Object.fromEntries(Object.entries(variants).map(([name, values]) => [name, pick(values)]))));
  return out;
}

describe('commonChat', () => {
  it('accepts exactly the chat bodies the chat schema accepts, and reads stream and include_usage as the schema does', () => {
    let accepted = 0;
    for (const b of corpus()) {
      const schema = REQUEST_SCHEMAS.chat.safeParse(b);
      const fast = commonChat(b);
      expect(fast !== undefined, JSON.stringify(b)).toBe(schema.success);
      if (fast === undefined || !schema.success) continue;
      accepted++;
      expect(fast.model).toBe(schema.data.model);
      expect(fast.stream === true).toBe(schema.data.stream === true);
      expect(fast.stream_options?.include_usage === true).toBe(schema.data.stream_options?.include_usage === true);
    }
    expect(accepted).toBeGreaterThan(25);
  });
});
