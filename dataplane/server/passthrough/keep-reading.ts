import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The client left in the middle of a successful answer: the answer is read on to its end without
 * being relayed, so that what it says it cost (its usage, after the images) is charged, up to the
 * route's total timeout (`deadline`), then given up (its meter charges what was read). The upstream
 * made the images either way. `release` ends the upstream exchange once the answer has closed.
 * Before, the client's leaving ended the upstream exchange at once: a token-priced image whose
 * usage had not come yet was charged nothing. False when the answer has already closed.
 */
export function keepReading(answer: IncomingMessage, client: ServerResponse, deadline: number, release: () => void): boolean {
  if (answer.destroyed || answer.readableEnded) return false;
  answer.unpipe(client);
  answer.resume();
  // The timer alone does not keep the process up (the answer being read does).
  const timer = setTimeout(() => answer.destroy(), Math.max(1, deadline - Date.now()));
  timer.unref();
  answer.once('close', () => {
    clearTimeout(timer);
    release();
  });
  return true;
}
