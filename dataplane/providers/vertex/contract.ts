import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';
import { secretSchema } from '../../config/secret-value.js';
import { serviceAccountKeyProblem } from '../../config/service-account-key.js';

export const VertexSettingsSchema = z.object({
  project: z.string().min(1),
  location: z.string().min(1),
  /** Google service-account JSON key; bearer tokens are minted from it. Without it apiKey is used as the bearer token. */
  serviceAccountKey: secretSchema()
    .superRefine((key, ctx) => {
      const problem = serviceAccountKeyProblem(key.reveal());
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
});

/** Vertex AI's part of the snapshot contract: the endpoint follows the location (`global` has none in its host). */
export const vertexContract = {
  type: 'vertex',
  settings: { vertex: VertexSettingsSchema.optional() },
  requires: 'vertex',
  defaultBaseUrl: (p: { vertex?: { location: string } }) => {
    const location = p.vertex?.location;
    if (location === undefined) return undefined;
    return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
  },
} as const satisfies ProviderContract;
