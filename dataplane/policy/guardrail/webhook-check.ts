import { z } from 'zod';
import type { Transport } from '../../upstream/transport.js';
import type { RemoteVerdict } from './remote-check.js';
import { postJson } from './remote-check.js';
import type { TextSlot } from './content-text.js';

/** Identifies the request a check is about; never content beyond the texts themselves. */
export interface CheckContext {
  policy: string;
  rule: string;
  phase: 'Request' | 'Response';
  requestId: string;
  route: string;
  model: string;
  caller: string;
  signal: AbortSignal;
}

/** Version 1 of the webhook contract (docs/guardrails.md). */
export const WEBHOOK_API_VERSION = 'tollgate.dev/v1alpha1';

/** The body POSTed: the check context (without the signal) and the texts. */
export type WebhookRequest = Omit<CheckContext, 'signal'> & {
  apiVersion: typeof WEBHOOK_API_VERSION;
  kind: 'GuardrailCheck';
  texts: TextSlot[];
};

const WebhookAnswerSchema = z.object({
  flagged: z.boolean(),
  reason: z.string().max(256).optional(),
  texts: z.array(z.string()).optional(),
});

/** Asks a webhook whether the texts are flagged (and, for Mask, what they become). */
export async function webhookCheck(transport: Transport, url: string, timeoutMs: number, texts: readonly TextSlot[], ctx: CheckContext): Promise<RemoteVerdict> {
  const { signal, ...about } = ctx;
  const body: WebhookRequest = { apiVersion: WEBHOOK_API_VERSION, kind: 'GuardrailCheck', ...about, texts: [...texts] };
  const res = await postJson(transport, url, {}, body, timeoutMs, signal);
  if (!res.ok) return res;
  const parsed = WebhookAnswerSchema.safeParse(res.json);
  if (!parsed.success) return { ok: false, error: `answer does not follow the contract (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message ?? ''})` };
  const { flagged, reason, texts: masked } = parsed.data;
  if (masked !== undefined && masked.length !== texts.length) return { ok: false, error: `answer has ${masked.length} texts for ${texts.length} sent` };
  return { ok: true, flagged, ...(reason === undefined ? {} : { reason }), ...(masked === undefined ? {} : { texts: masked }) };
}
