import type { ServerResponse } from 'node:http';

const ID = Symbol('tollgate.answerId');
const ID_HEADER = Symbol('tollgate.answerIdHeader');

/** A response the public server named: the request's id, and the header besides x-request-id its API names it in. */
type Named = ServerResponse & { [ID]?: string; [ID_HEADER]?: string | undefined };

/**
 * Remembers the id a response answers with, for the paths that write an answer without the
 * pipeline's headers (errors, the access log of a refused request). Kept on the response rather than
 * set as a header: one setHeader makes node merge every later writeHead's headers into its own
 * header object, one removeHeader and appendHeader a header, ~3 µs a request on the hot path.
 */
export function nameAnswer(res: ServerResponse, id: string, idHeader: string | undefined): void {
  (res as Named)[ID] = id;
  (res as Named)[ID_HEADER] = idHeader;
}

/** The id nameAnswer gave the response, if any. */
export function answerIdOf(res: ServerResponse): string | undefined {
  return (res as Named)[ID];
}

/** The headers that name the response's request (x-request-id, and its API's own), or none when it was not named. */
export function answerIdHeaders(res: ServerResponse): Record<string, string> {
  const id = (res as Named)[ID];
  if (id === undefined) return {};
  const header = (res as Named)[ID_HEADER];
  return header === undefined ? { 'x-request-id': id } : { 'x-request-id': id, [header]: id };
}
