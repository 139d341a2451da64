import { guardedLookup, refusedLiteral } from './egress-guard.js';
import { buildConnector } from './undici.js';

/**
 * undici's connector (TCP or TLS, its session cache, the connect timeout) with the guard: a host
 * that is, or resolves to, a blocked address is refused before anything is sent to it. For an
 * Agent's `connect`. (`connect`: undici's own, with the guarded lookup; tests give their own.)
 */
export function guardedConnector(timeout: number, connect: ReturnType<typeof buildConnector> = buildConnector({ timeout, lookup: guardedLookup })): ReturnType<typeof buildConnector> {
  return (options, callback) => {
    const refused = refusedLiteral(options.hostname);
    if (refused !== undefined) {
      callback(refused, null);
      return;
    }
    connect(options, callback);
  };
}
