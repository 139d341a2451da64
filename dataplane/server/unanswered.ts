import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How a request is answered when the drain ends before it was: `answer(reason, 'drain')`, its own
 * refusal path (see inbound-endpoint.ts). Kept on its response, which the drain finds through its
 * connection: nothing is added to or removed from a table per request (a Set of closures, one per
 * request, cost 20 % more young GCs on the hot path).
 */
const ANSWER = Symbol('tollgate.answerAtDrain');

/** The drain's end, as the second argument of an `answer` kept by answerAtDrain. */
export type DrainEnded = 'drain';

export type DrainAnswer = (reason: Error, drain: DrainEnded) => void;

type Answerable = ServerResponse & { [ANSWER]?: DrainAnswer };

/** node's http server keeps the response being written on each connection (what res.assignSocket sets). */
type HttpSocket = Socket & { _httpMessage?: ServerResponse | null };

/** Keeps how `res` is answered if the drain ends first. */
export function answerAtDrain(res: ServerResponse, answer: DrainAnswer): void {
  (res as Answerable)[ANSWER] = answer;
}

/**
 * Answers with `reason` every request on `sockets` whose answer has not started (its headers not
 * sent): a connection reset looks like a network failure, an error answer says to retry elsewhere.
 * Returns the connections answered, which close once their answer has left (`connection: close`).
 * A request queued behind another on a pipelined connection is not found: node 20 keeps its
 * response in the connection's queue (`state.outgoing` in _http_server.js), held only by the
 * functions it binds to the socket's events. It goes unanswered; its connection closes after the
 * answer ahead of it, which says `connection: close`, or at the drain's end, and HTTP/1.1 leaves it
 * to its client to send it again. Its handling is told its client is gone then (node emits no
 * 'close' on a queued response: Dataplane keeps those of pipelined connections to emit it).
 * Answering it too would need every earlier answer on its connection to leave `connection: close`
 * out, which one written during the drain already says.
 */
export function answerUnanswered(sockets: Iterable<Socket>, reason: Error): Socket[] {
  const answered: Socket[] = [];
  for (const socket of sockets) {
    const res = (socket as HttpSocket)._httpMessage;
    if (res === undefined || res === null || res.headersSent || res.destroyed) continue;
    const answer = (res as Answerable)[ANSWER];
    if (answer === undefined) continue;
    answer(reason, 'drain');
    answered.push(socket);
  }
  return answered;
}

/** Resolves once every socket has closed, or after `ms`. */
export function closedWithin(sockets: readonly Socket[], ms: number): Promise<void> {
  const open = sockets.filter((s) => !s.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let left = open.length;
    const timer = setTimeout(resolve, ms);
    const closed = (): void => {
      if (--left > 0) return;
      clearTimeout(timer);
      resolve();
    };
    for (const socket of open) socket.once('close', closed);
  });
}
