import { z } from 'zod';

/** Whose traffic a policy (Budget, GuardrailPolicy) governs; any one match applies it. */
export const SubjectsConfigSchema = z.object({
  namespaces: z.array(z.string()),
  /** "namespace/name" */
  serviceAccounts: z.array(z.string()),
  /** API key Secrets, "namespace/name" */
  apiKeys: z.array(z.string()),
  /** route ids */
  routes: z.array(z.string()),
});
export type SubjectsConfig = z.infer<typeof SubjectsConfigSchema>;
