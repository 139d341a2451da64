import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { REQUEST_SCHEMAS } from '../inbound/openai/request-schemas.js';
import { MessagesRequestSchema } from '../inbound/anthropic/messages-request.js';
import { ResponsesRequestSchema } from '../inbound/responses/responses-request.js';
import { firstIssueArray } from './first-issue-array.js';

describe('firstIssueArray', () => {
  const Message = z.looseObject({ role: z.enum(['user', 'assistant']), content: z.string() });

  it("reports the first bad element's first issue, as z.array does, and the elements it parsed", () => {
    const bad = [{ role: 'user', content: 'a' }, { role: 'robot', content: 1 }, {}];
    expect(firstIssueArray(Message).safeParse(bad).error?.issues).toEqual([z.array(Message).safeParse(bad).error?.issues[0]]);
    expect(firstIssueArray(Message, 1).safeParse([]).error?.issues).toEqual(z.array(Message).min(1).safeParse([]).error?.issues);
    expect(firstIssueArray(Message).parse([{ role: 'user', content: 'a', extra: 1 }])).toEqual([{ role: 'user', content: 'a', extra: 1 }]);
  });

  it('records one issue for a body of 200,000 bad elements, on every endpoint (z.array recorded one per element, and more for unions)', () => {
    const many = <T>(make: () => T): T[] => Array.from({ length: 200_000 }, make);
    const outcomes = [
      REQUEST_SCHEMAS.chat.safeParse({ model: 'm', messages: many(() => ({ type: 'x' })) }),
      REQUEST_SCHEMAS.completions.safeParse({ model: 'm', prompt: many(() => true) }),
      REQUEST_SCHEMAS.embeddings.safeParse({ model: 'm', input: many(() => ({})) }),
      MessagesRequestSchema.safeParse({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: many(() => ({ type: 'x' })) }] }),
      ResponsesRequestSchema.safeParse({ model: 'm', input: many(() => ({ role: 'x' })) }),
    ];
    for (const outcome of outcomes) {
      expect(outcome.success).toBe(false);
      expect(JSON.stringify(outcome.error?.issues).length).toBeLessThan(20_000);
    }
  });

  it('accepts arrays of token-id arrays by type, without a zod parse per inner array (2.4 million one-token prompts held the event loop for 4 s)', () => {
    const prompts = Array.from({ length: 1000 }, (_, i) => [i, i + 1]);
    const parsed = firstIssueArray(firstIssueArray(z.number())).parse(prompts);
    expect(parsed).toEqual(prompts);
    // The inner arrays are the ones given: no zod parse copied them.
    expect(parsed[0]).toBe(prompts[0]);
    const bad = firstIssueArray(firstIssueArray(z.number(), 1)).safeParse([[1], [], [2]]);
    expect(bad.error?.issues).toEqual([z.array(z.array(z.number()).min(1)).safeParse([[1], [], [2]]).error?.issues[0]]);
    expect(firstIssueArray(firstIssueArray(z.number())).safeParse([[1], ['x']]).error?.issues[0]?.path).toEqual([1, 0]);
  });
});
