import type { HeaderMap } from '../core/canonical.js';

/** What a request id looks like: visible ASCII, no longer than ids are (a longer or odd value is not relayed). */
const USABLE = /^[\x21-\x7e]{1,200}$/;

/**
 * The response headers a provider type names its request in: the one its support asks for, then one
 * read only when an answer lacks the first (Azure OpenAI deployments without the API Management
 * front name the request only in x-ms-request-id).
 */
export type RequestIdHeaders = readonly [preferred: string, fallback?: string];

/**
 * The upstream's own id of the request, from the headers its provider type names it in
 * (RuntimeProvider.requestIdHeaders); undefined when the type names none (Gemini) or no value is one a
 * response header may carry: it is relayed to the client as `x-upstream-request-id`, and an
 * upstream's control characters there would make the answer's headers invalid.
 */
export function upstreamRequestId(headers: HeaderMap, names: RequestIdHeaders | undefined): string | undefined {
  if (names === undefined) return undefined;
  const id = usable(headers[names[0]]);
  // One header read per answer whenever the preferred header is there (every answer but Azure's exceptions).
  return id !== undefined || names[1] === undefined ? id : usable(headers[names[1]]);
}

function usable(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && USABLE.test(value) ? value : undefined;
}

/** The response header that carries it to the client. */
export const UPSTREAM_REQUEST_ID_HEADER = 'x-upstream-request-id';
