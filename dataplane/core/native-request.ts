import type { CanonicalRequest } from './canonical.js';
import { errors } from './gateway-error.js';

/**
 * The request without its native form, for a stage that rewrote the canonical request or must read
 * the answer in canonical form (guardrails): what goes upstream is then the translation. A request
 * that only a native target can serve cannot do without it: a 400 says why (`because`).
 */
export function canonicalOnly(req: CanonicalRequest, because: string): CanonicalRequest {
  const { native, ...rest } = req;
  if (native === undefined) return req;
  if (native.requires !== undefined) throw errors.badRequest(`${native.requires.message}, but ${because}`, native.requires.param);
  return rest;
}
