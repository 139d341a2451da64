import { ANONYMOUS, type Caller } from '../core/caller.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { refusedWithoutRoute } from '../pipeline/stages/identify.js';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../runtime/rule-matcher.js';
import type { RequestTelemetry } from '../telemetry/gateway-observer.js';

/**
 * Who is calling, from the headers alone, before any body is read (bounded or not): an endpoint
 * outside the request stages (pass-through, count_tokens) refuses here a caller no route admits,
 * as the identify stage does. Without an authenticator every caller is anonymous.
 */
export async function identifyCaller(auth: Authenticator | undefined, runtime: RuntimeSnapshot, header: HeaderLookup, telemetry: RequestTelemetry): Promise<Caller> {
  const caller = auth === undefined ? ANONYMOUS : await auth.authenticate(header, runtime.apiKeys);
  if (auth !== undefined) {
    const refused = refusedWithoutRoute(caller, runtime.snapshot.routes);
    if (refused !== undefined) throw refused;
  }
  telemetry.caller(caller);
  return caller;
}
