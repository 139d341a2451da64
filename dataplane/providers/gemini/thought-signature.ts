/**
 * Gemini 3 models put a `thoughtSignature` on the functionCall part they answer with and refuse the
 * next turn (400 "Function call is missing a thought_signature") unless it comes back on that part.
 * OpenAI and Anthropic clients keep only a tool call's id, name and arguments in their history, and a
 * gateway pod keeps no state between requests, so the signature travels inside the tool-call id the
 * client echoes back as `tool_calls[].id` / `tool_call_id` (or `tool_use.id` / `tool_use_id`).
 *
 * The id stays within `[A-Za-z0-9_-]` (what Anthropic and Bedrock accept as tool ids): the signature
 * goes in base64url after a marker, and comes back as the standard base64 Gemini sent.
 */

const MARKER = '__thought__';

/**
 * The longest signature carried (base64 characters). Real ones are a few hundred bytes to a few
 * kilobytes; past this an upstream's signature is dropped rather than grow every id the client keeps.
 */
export const MAX_SIGNATURE_CHARS = 16_384;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A tool-call id that carries `signature`; the bare id when there is none, or it is not base64 or too long. */
export function idWithSignature(id: string, signature: string | undefined): string {
  if (signature === undefined || signature === '' || signature.length > MAX_SIGNATURE_CHARS || !BASE64.test(signature)) return id;
  return `${id}${MARKER}${signature.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`;
}

/** The signature a tool-call id carries (standard, padded base64), if it carries one. */
export function signatureOf(id: string): string | undefined {
  const at = id.indexOf(MARKER);
  if (at === -1) return undefined;
  const encoded = id.slice(at + MARKER.length);
  if (encoded === '' || encoded.length > MAX_SIGNATURE_CHARS || !/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const standard = encoded.replaceAll('-', '+').replaceAll('_', '/');
  return standard + '='.repeat((4 - (standard.length % 4)) % 4);
}
