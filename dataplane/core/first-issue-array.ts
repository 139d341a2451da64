import { z } from 'zod';

/**
 * Schemas whose every accepted value a plain predicate recognises (arrays of plain numbers or
 * strings, and arrays of those): a valid token array is checked with one native loop instead of
 * one zod parse per element.
 */
const plainChecks = new WeakMap<z.ZodType, (value: unknown) => boolean>();

function plainCheck(elem: z.ZodType): ((value: unknown) => boolean) | undefined {
  const known = plainChecks.get(elem);
  if (known !== undefined) return known;
  // A plain z.number() or z.string() (no checks) accepts exactly the values of that type.
  if ((elem.def.checks?.length ?? 0) !== 0) return undefined;
  if (elem instanceof z.ZodNumber) return (value) => typeof value === 'number';
  if (elem instanceof z.ZodString) return (value) => typeof value === 'string';
  return undefined;
}

/**
 * z.array(elem), checked element by element and stopping at the first element that fails, with
 * that element's first issue (its path under the array's, as z.array reports it). z.array records
 * an issue, with its path and message, for every bad element (several for a union): one 9 MB body
 * of 700,000 bad elements took 2 GB of heap and 15 s of the event loop, and the refusal names one.
 * `min`: the fewest elements (z.array's .min, checked first).
 */
export function firstIssueArray<T extends z.ZodType>(elem: T, min = 0) {
  const plain = plainCheck(elem);
  const schema = z
    .array(z.unknown())
    .min(min)
    .transform((items, ctx) => {
      // Token arrays (embeddings, completions) are millions of numbers, or arrays of them: checked
      // by type at once. Before, each inner array of a number[][] went through its own zod parse:
      // 2.4 million one-token prompts held the event loop for 4 s.
      if (plain !== undefined && items.every(plain)) return items as z.output<T>[];
      const out: z.output<T>[] = [];
      for (let i = 0; i < items.length; i++) {
        const parsed = elem.safeParse(items[i]);
        if (!parsed.success) {
          const first = parsed.error.issues[0];
          // The element's own issue, its path under the array's: the same issue z.array would have put first.
          const issue = first === undefined ? { code: 'custom', message: 'invalid', path: [i] } : { ...first, path: [i, ...first.path] };
          ctx.issues.push({ ...issue, input: items[i] } as z.core.$ZodRawIssue);
          return z.NEVER;
        }
        out.push(parsed.data);
      }
      return out;
    });
  if (plain !== undefined) plainChecks.set(schema, (value) => Array.isArray(value) && value.length >= min && value.every(plain));
  return schema;
}
