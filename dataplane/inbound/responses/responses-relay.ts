import { isObject } from '../../providers/shared/json-guards.js';
import type { JsonObject } from '../../core/canonical.js';
import type { ResponsesEvent } from './responses-stream.js';

/** A Responses stream event (it has a `type`), as a native target sends it; canonical chat chunks have none. */
export function isResponsesEvent(chunk: JsonObject): boolean {
  return typeof chunk.type === 'string';
}

/**
 * A native target's Responses events, written as they came (its own bytes, its sequence numbers).
 * Only a failure the gateway adds (the upstream broke off, went silent, a budget cut it) is its own:
 * an `error` event and `response.failed` on the last Response the upstream showed, numbered on.
 */
export class ResponsesRelay {
  private sequence = -1;
  private response: JsonObject | undefined;

  event(chunk: JsonObject): ResponsesEvent {
    if (typeof chunk.sequence_number === 'number') this.sequence = Math.max(this.sequence, chunk.sequence_number);
    if (isObject(chunk.response)) this.response = chunk.response;
    return { event: String(chunk.type), data: chunk };
  }

  fail(code: string, message: string): ResponsesEvent[] {
    const error: ResponsesEvent = { event: 'error', data: { type: 'error', sequence_number: ++this.sequence, code, message, param: null } };
    if (this.response === undefined) return [error];
    const response = { ...this.response, status: 'failed', error: { code, message } };
    return [error, { event: 'response.failed', data: { type: 'response.failed', sequence_number: ++this.sequence, response } }];
  }
}
