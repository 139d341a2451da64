import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** One request header by name (any case); repeated headers joined as node joins them. */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The client's x-request-id when it is usable, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : randomUUID();
}
