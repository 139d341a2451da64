import type { z } from 'zod';
import { errors, type GatewayError } from './gateway-error.js';

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
};

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  // JSON.parse reads 1e309 as Infinity: "must be a number, not a number" helped nobody.
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number too large for JSON to hold (it reads as infinite)';
  if (Array.isArray(value)) return 'an array';
  return TYPE_NAMES[typeof value] ?? typeof value;
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  const min = Number(issue.minimum);
  if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must have at least ${min} characters`;
  if (issue.origin === 'array') return min <= 1 ? 'must not be empty' : `must have at least ${min} items`;
  if (issue.origin === 'number' && min === 0 && issue.inclusive !== true) return 'must be a positive number';
  return `must be at least ${String(issue.minimum)}`;
}

/** One schema issue as a sentence for the person who sent the request. */
function sentence(issue: z.core.$ZodIssue, body: unknown): string {
  const value = valueAt(body, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return value === undefined ? `is required and must be ${expected}` : `must be ${expected}, not ${kindOf(value)}`;
    }
    case 'too_small':
      return tooSmall(issue);
    case 'invalid_union':
      return value === undefined ? 'is required' : `has an unsupported shape (${kindOf(value)}); see the API reference for the accepted forms`;
    default:
      return `is not valid (${issue.message})`;
  }
}

/**
 * A failed request validation as a 400 people can act on ("`model` is required and must be a string"),
 * with the field in the OpenAI-style `param` (dotted path, e.g. `messages.0.role`).
 */
export function invalidRequest(error: z.ZodError, body: unknown): GatewayError {
  const issue = error.issues[0];
  if (issue === undefined) return errors.badRequest('invalid request body');
  const param = issue.path.map(String).join('.');
  if (param === '') return errors.badRequest(`the request body ${sentence(issue, body)}`);
  return errors.badRequest(`\`${param}\` ${sentence(issue, body)}`, param);
}
