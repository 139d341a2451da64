import { z } from 'zod';
import type { Operation } from '../../core/canonical.js';
import { firstIssueArray } from '../../core/first-issue-array.js';

const message = z.looseObject({
  role: z.string().min(1),
});

const streamFields = {
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  // Multiplies billed output (budgets reserve for it): refused unless a positive integer, never coerced upstream.
  n: z.number().int().positive().nullish(),
};

/** Just enough validation to route and meter; every other field passes through to the provider. */
export const REQUEST_SCHEMAS: Record<Operation, z.ZodType<{ model: string; stream?: boolean | null | undefined; stream_options?: { include_usage?: boolean | undefined } | null | undefined }>> = {
  chat: z.looseObject({ model: z.string().min(1), messages: firstIssueArray(message, 1), ...streamFields }),
  completions: z.looseObject({
    model: z.string().min(1),
    prompt: z.union([z.string(), firstIssueArray(z.string()), firstIssueArray(z.number()), firstIssueArray(firstIssueArray(z.number()))]),
    ...streamFields,
    best_of: z.number().int().positive().nullish(),
  }),
  embeddings: z.looseObject({
    model: z.string().min(1),
    input: z.union([z.string(), firstIssueArray(z.string(), 1), firstIssueArray(z.number(), 1), firstIssueArray(firstIssueArray(z.number()), 1)]),
  }),
};
