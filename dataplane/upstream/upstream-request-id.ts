import type { HeaderMap } from '../core/canonical.js';

/** What a request id looks like: visible ASCII, no longer than ids are (a longer or odd value is not relayed). */
const USABLE = /^[\x21-\x7e]{1,200}$/;

/**
 * The upstream's own id of the request, from the one header its provider type names it in
 * (RuntimeProvider.requestIdHeader); undefined when the type names none (Gemini) or the value is not
 * one a response header may carry: it is relayed to the client as `x-upstream-request-id`, and an
 * upstream's control characters there would make the answer's headers invalid.
 */
export function upstreamRequestId(headers: HeaderMap, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = headers[name];
  return typeof value === 'string' && USABLE.test(value) ? value : undefined;
}

/** The response header that carries it to the client. */
export const UPSTREAM_REQUEST_ID_HEADER = 'x-upstream-request-id';
