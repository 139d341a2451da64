import { z } from 'zod';
import { isTimeZone } from '../../dataplane/config/budget-period.js';
import { ConditionsSchema, PositiveDurationSchema, InstallationSchema, ObservedGenerationSchema, withRules, objectSchema } from './common.js';
import { subjectsSchema } from './subjects.js';

export const BudgetSpecSchema = withRules(
  z.strictObject({
    limit: withRules(
      z.strictObject({
        amount: z.number().describe('Limit per period; must be above 0.'),
        unit: z.enum(['USD', 'Tokens']).default('USD').describe('USD of metered cost, or tokens (input + output).'),
      }),
      [{ rule: 'self.amount > 0', message: 'limit.amount must be greater than 0', holds: (l) => l.amount > 0 }],
    ).describe('How much may be spent per period, in USD or tokens.'),
    period: z
      .enum(['Day', 'Week', 'Month', 'Rolling'])
      .default('Month')
      .describe('Calendar period in timeZone (weeks start on Monday), or a rolling window of length window.'),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .refine(isTimeZone, 'must be an IANA time zone such as UTC or Europe/Berlin')
      .default('UTC')
      .describe('IANA time zone in which calendar periods start, e.g. Europe/Berlin.'),
    window: PositiveDurationSchema.optional().describe('Length of the rolling window; only with period Rolling.'),
    subjects: subjectsSchema('Budget').describe('Whose spend counts against this budget.'),
    thresholds: z
      .array(z.number().int().min(1).max(100))
      .max(10)
      .default([50, 80, 100])
      .describe('Percentages of the limit at which a Kubernetes Event is emitted.'),
    action: withRules(
      z.strictObject({
        type: z.enum(['Reject', 'Downgrade']).default('Reject').describe('Reject with 429, or send traffic to a cheaper route.'),
        downgradeTo: z.string().min(1).optional().describe('Public model name of the route used once the budget is exhausted.'),
        cutStreams: z
          .boolean()
          .default(false)
          .describe('End a stream with an error event when it crosses the limit, instead of letting it finish.'),
      }),
      [
        {
          rule: "self.type != 'Downgrade' || has(self.downgradeTo)",
          message: 'downgradeTo is required with action Downgrade',
          holds: (a) => a.type !== 'Downgrade' || a.downgradeTo !== undefined,
        },
      ],
    )
      .optional()
      .describe('What happens when the limit is reached.'),
  }),
  [
    {
      rule: "(self.period == 'Rolling') == has(self.window)",
      message: 'window is required with period Rolling and only allowed with it',
      holds: (b) => (b.period === 'Rolling') === (b.window !== undefined),
    },
  ],
).describe('A spend or token limit over a set of callers or routes.');

export const BudgetStatusSchema = z.strictObject({
  observedGeneration: ObservedGenerationSchema,
  installation: InstallationSchema,
  conditions: ConditionsSchema.optional(),
  spent: z.number().optional().describe('Spent in the current period, in the unit of the limit.'),
  remaining: z.number().optional().describe('Left in the current period.'),
  periodStart: z.string().optional().describe('Start of the current period (RFC 3339).'),
  resetsAt: z.string().optional().describe('When the current period ends (RFC 3339); absent for rolling windows.'),
  unit: z.enum(['USD', 'Tokens']).optional().describe('The unit spent is counted in: a change of spec.limit.unit starts the count over (Event BudgetSpendReset).'),
  appliedThrough: z
    .record(z.string(), z.number().int())
    .optional()
    .describe('Per data-plane pod, the last usage report sequence number counted (makes reports idempotent). A pod not heard from for a day is removed, and at most 1000 are kept: the data-plane pods the operator knows first, then the most recently heard.'),
  buckets: z
    .array(z.strictObject({ start: z.string().describe('Bucket start (RFC 3339).'), spent: z.number().describe('Spent in the bucket.') }))
    .max(64)
    .optional()
    .describe('Rolling windows: spend per time bucket inside the window.'),
}).describe('Spend in the current period, as the operator last persisted it.');

export const BudgetSchema = objectSchema('Budget', BudgetSpecSchema, BudgetStatusSchema);
export type Budget = z.infer<typeof BudgetSchema>;
export type BudgetSpec = z.infer<typeof BudgetSpecSchema>;
