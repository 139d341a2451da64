import { z } from 'zod';
import { ServiceAccountRefSchema, withRules } from './common.js';

/**
 * Which traffic a policy object applies to: one shape for every kind that selects callers or routes
 * (Budget, DataPolicy, GuardrailPolicy), so a platform team learns it once.
 */
export function subjectsSchema(kind: string) {
  return withRules(
    z.strictObject({
      namespaces: z.array(z.string().min(1)).max(256).optional().describe('All callers in these namespaces.'),
      serviceAccounts: z
        .array(ServiceAccountRefSchema)
        .max(256)
        .optional()
        .describe('These ServiceAccounts.'),
      apiKeys: z.array(z.string().min(1)).max(256).optional().describe(`API key Secrets (by name, in the ${kind} namespace).`),
      routes: z
        .array(
          z.strictObject({
            name: z.string().min(1).describe('ModelRoute name.'),
            namespace: z.string().min(1).optional().describe(`ModelRoute namespace; defaults to the ${kind} namespace.`),
          }),
        )
        .max(256)
        .optional()
        .describe('All traffic through these ModelRoutes.'),
    }),
    [
      {
        rule: 'has(self.namespaces) || has(self.serviceAccounts) || has(self.apiKeys) || has(self.routes)',
        message: 'subjects must name at least one namespace, serviceAccount, apiKey or route',
        holds: (s) => s.namespaces !== undefined || s.serviceAccounts !== undefined || s.apiKeys !== undefined || s.routes !== undefined,
      },
    ],
  );
}
export type Subjects = z.infer<ReturnType<typeof subjectsSchema>>;
