import { describe, expect, it } from 'vitest';
import { REQUEST_FIELDS, RESPONSE_FIELDS, requestFieldsJson, responseFieldsJson } from './serialise-capture.js';
import { seededRandom } from '../../../test/support/seeded-random.js';

/** The content fields' JSON as recordParts built it before (session 11): a loop over the field names. */
function loopFieldsJson(source: Record<string, unknown>, fields: readonly string[]): string {
  let json = '';
  for (const name of fields) {
    const value = source[name];
    if (value !== undefined) json += `${json === '' ? '{' : ','}"${name}":${JSON.stringify(value)}`;
  }
  return json === '' ? '{}' : `${json}}`;
}

const VALUES: unknown[] = [
  'text "quoted" \u2028 \ud800',
  [{ role: 'user', content: 'hi' }],
  [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'a\nb' }] }],
  { nested: { a: 1, b: [true, null] } },
  0,
  null,
  undefined,
  [],
  '',
];

describe('content fields JSON', () => {
  it('is the field-list loop\'s text for any subset of the fields, in any key order, among other keys', () => {
    const random = seededRandom(16);
    for (let n = 0; n < 3000; n++) {
      const names = [...REQUEST_FIELDS, ...RESPONSE_FIELDS, 'model', 'max_tokens', 'id', 'usage'];
      const body: Record<string, unknown> = {};
      // Shuffled insertion, each name present with probability 1/2: the body's key order must not matter.
      for (let i = names.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [names[i], names[j]] = [names[j] as string, names[i] as string];
      }
      for (const name of names) if (random() < 0.5) body[name] = VALUES[Math.floor(random() * VALUES.length)];
      const parsed = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
      for (const b of [body, parsed]) {
        expect(requestFieldsJson(b), `seed 16 case ${n}`).toBe(loopFieldsJson(b, REQUEST_FIELDS));
        expect(responseFieldsJson(b), `seed 16 case ${n}`).toBe(loopFieldsJson(b, RESPONSE_FIELDS));
      }
    }
  });

  it('writes every field in the list order, whatever the body\'s order', () => {
    const body = { tools: [1], input: 'i', prompt: 'p', messages: [], instructions: 'n', system: 's', output: [2], data: [3], choices: [4] };
    expect(requestFieldsJson(body)).toBe('{"system":"s","instructions":"n","messages":[],"prompt":"p","input":"i","tools":[1]}');
    expect(responseFieldsJson(body)).toBe('{"choices":[4],"data":[3],"output":[2]}');
    expect(requestFieldsJson({ model: 'm' })).toBe('{}');
    expect(responseFieldsJson({ id: 'x' })).toBe('{}');
  });
});
