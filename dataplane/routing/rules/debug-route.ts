import express, { type Express, type Request } from 'express';
import { SMALL_BODY_LIMIT } from '../../config/channel-http.js';
import type { SnapshotStore } from '../../runtime/snapshot-store.js';
import { accessDenied } from '../../governance/access.js';
import { selectRoute } from '../../governance/route-selection.js';
import type { Authenticator } from '../../governance/identity/authenticator.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import { estimatePromptTokens } from '../../metering/token-estimate.js';
import type { JsonObject } from '../../core/canonical.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import type { Router } from '../router.js';

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
  const selected = selectRoute(runtime.routesByModel.get(body.model), caller, header, runtime.snapshot.namespaces, deps.auth !== undefined);
  if (selected === undefined) throw errors.modelNotFound(body.model);
  if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
  const route = selected.route;
  const promptTokens = estimatePromptTokens(body);
  const decision = deps.router.decide(runtime, route, {
    caller,
    header,
    namespaces: runtime.snapshot.namespaces,
    body,
    stream: body.stream === true,
    promptTokens,
  });
  const health = (providerId: string, model: string): JsonObject => {
    const view = deps.router.health.view({ providerId, model, priority: 0, weight: 0, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } });
    return view.ejectedForMs === undefined ? { state: view.state } : { state: view.state, ejectedForMs: view.ejectedForMs };
  };
  return {
    snapshot: runtime.snapshot.version,
    caller: caller.id,
    route: route.config.id,
    rule: decision.rule,
    rules: route.rules.map((r) => r.name),
    strategy: decision.strategy,
    features: { ...decision.features, maxTokens: decision.features.maxTokens ?? null },
    candidates: decision.candidates.map((t) => ({
      provider: t.providerId,
      model: t.model,
      contextWindow: t.contextWindow ?? null,
      health: health(t.providerId, t.model),
    })),
    skipped: decision.skipped.map((s) => ({ provider: s.providerId, model: s.model, reason: s.reason, detail: s.detail })),
    policies: decision.excludedBy,
    panic: decision.panic,
  };
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
