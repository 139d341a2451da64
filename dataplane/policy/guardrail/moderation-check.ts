import { z } from 'zod';
import { boundedNames } from '../../core/bounded-names.js';
import type { RuntimeProvider } from '../../runtime/runtime-snapshot.js';
import type { RemoteVerdict } from './remote-check.js';
import { postJson } from './remote-check.js';

/** The OpenAI moderation answer: one result per input. */
const ModerationAnswerSchema = z.object({
  results: z.array(z.object({ flagged: z.boolean(), categories: z.record(z.string(), z.boolean().nullable()) })).min(1),
});

/**
 * POST {provider}/moderations in the OpenAI wire format. With `categories` only those count;
 * otherwise the provider's own `flagged` verdict does. The verdict names the categories, never text:
 * without a list, every category the service marks (any number, any length) is bounded here, where it
 * enters, before a refusal, a span, the access log or /debug/route repeats it.
 */
export async function moderationCheck(
  provider: RuntimeProvider | undefined,
  model: string,
  categories: readonly string[] | undefined,
  timeoutMs: number,
  texts: readonly string[],
  signal: AbortSignal,
): Promise<RemoteVerdict> {
  const base = provider?.config.endpoints[0];
  if (provider === undefined || base === undefined) return { ok: false, error: 'moderation provider is not available (see the policy ResolvedRefs condition)' };
  const headers: Record<string, string> = { ...provider.config.headers };
  const key = provider.config.apiKey?.reveal();
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const res = await postJson(provider.transport, `${base.replace(/\/+$/, '')}/moderations`, headers, { model, input: [...texts] }, timeoutMs, signal);
  if (!res.ok) return res;
  const parsed = ModerationAnswerSchema.safeParse(res.json);
  if (!parsed.success) return { ok: false, error: 'answer is not an OpenAI moderation response' };
  if (parsed.data.results.length !== texts.length) return { ok: false, error: `answer has ${parsed.data.results.length} results for ${texts.length} inputs` };
  const hit = new Set<string>();
  let flagged = false;
  for (const r of parsed.data.results) {
    const on = Object.entries(r.categories).filter(([, v]) => v === true).map(([k]) => k);
    const counted = categories === undefined ? on : on.filter((c) => categories.includes(c));
    counted.forEach((c) => hit.add(c));
    if (categories === undefined ? r.flagged : counted.length > 0) flagged = true;
  }
  return { ok: true, flagged, categories: boundedNames([...hit].sort()) };
}
