import express, { type Express, type Request } from 'express';
import { SMALL_BODY_LIMIT } from '../config/channel-http.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { ANONYMOUS, type Caller } from '../core/caller.js';
import type { JsonObject } from '../core/canonical.js';
import { errors, GatewayError } from '../core/gateway-error.js';
import type { Router } from '../routing/router.js';
import { explainRoute } from '../routing/rules/explain-route.js';

export interface DebugRouteDeps {
  store: SnapshotStore;
  router: Router;
  /** Caller identity as on the public port; absent = anonymous. */
  auth?: Authenticator;
}

/** The Authorization header of the caller whose request is explained. */
export const CALLER_AUTHORIZATION = 'x-tollgate-caller-authorization';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function explain(deps: DebugRouteDeps, req: Request): Promise<JsonObject> {
  const runtime = deps.store.current;
  if (runtime === undefined) throw errors.notReady();
  const body: unknown = req.body;
  if (!isObject(body) || typeof body.model !== 'string') throw errors.badRequest('send the request body a client would send (a JSON object with model)');
  // Authorization carries the admin token here; the credential of the caller to explain comes in
  // its own header (x-api-key and api-key pass as they are).
  const header = (name: string): string | undefined => (name === 'authorization' ? req.get(CALLER_AUTHORIZATION) : req.get(name));
  const caller: Caller = deps.auth === undefined ? ANONYMOUS : await deps.auth.authenticate(header, runtime.apiKeys);
  return explainRoute(runtime, deps.router, { body: body as JsonObject & { model: string }, header, caller, checkAccess: deps.auth !== undefined });
}

/**
 * POST /debug/route on the admin port (behind the admin token): the routing decision for a request
 * body, with the caller's headers (x-task-type, ..., and the caller's Authorization value in
 * x-tollgate-caller-authorization), without sending anything upstream. A refusal (404, 403,
 * 400) comes back as the client would get it, in `error`.
 */
export function mountDebugRoute(app: Express, deps: DebugRouteDeps): void {
  app.post('/debug/route', express.json({ limit: SMALL_BODY_LIMIT }), (req, res) => {
    explain(deps, req).then(
      (decision) => res.json({ decision }),
      (err: unknown) => {
        const e = err instanceof GatewayError ? err : errors.internal(err);
        res.status(e.status).json({ decision: null, ...e.toBody() });
      },
    );
  });
}
