import express, { type Express, type Request } from 'express';
import { SMALL_BODY_LIMIT } from '../config/channel-answers.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { ANONYMOUS, type Caller } from '../core/caller.js';
import type { JsonObject } from '../core/canonical.js';
import { errors, GatewayError } from '../core/gateway-error.js';
import type { Router } from '../routing/router.js';
import { explainRoute } from '../routing/rules/explain-route.js';
import { RuntimeGuardrails } from '../policy/guardrail/guardrail-engine.js';
import { dryRunRequest } from '../policy/guardrail/guardrail-dry-run.js';
import { dryRunUninspected } from '../policy/guardrail/uninspected.js';
import { estimatePromptTokens } from '../metering/token-estimate.js';
import type { Transport } from '../upstream/transport.js';
import { explainDataPolicy } from '../policy/capture/explain-policy.js';
import type { CaptureSampler } from '../policy/capture/capture-sampler.js';
import { jsonShapeProblem } from '../core/json-shape.js';
import { bodyErrors, DEFAULT_MAX_JSON_ELEMENTS, MAX_JSON_DEPTH } from '../server/body/json-body.js';

export interface DebugRouteDeps {
  store: SnapshotStore;
  router: Router;
  /** Caller identity as on the public port; absent = anonymous. */
  auth?: Authenticator;
  /** How guardrail webhooks and moderation Providers are asked; absent = guardrails are not dry-run. */
  transport?: Transport;
  /** The capture's sampler: whether an x-request-id would be recorded under a sampled DataPolicy. */
  sampler: CaptureSampler;
  /** The public port's bound on objects, arrays and members (`--max-json-elements`). */
  maxJsonElements?: number;
}

/** The Authorization header of the caller whose request is explained. */
export const CALLER_AUTHORIZATION = 'x-tollgate-caller-authorization';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The body as the public port would read it: nesting and elements bounded in one pass over the
 * bytes before JSON.parse. Before, express.json parsed whatever fit in 4 MB: nested arrays held the
 * event loop every tenant's requests share for about a second.
 */
function parsedBody(raw: unknown, maxJsonElements: number): unknown {
  if (!Buffer.isBuffer(raw)) return raw; // not JSON (express.raw left it alone): explained as no body
  const shape = jsonShapeProblem(raw, MAX_JSON_DEPTH, maxJsonElements);
  if (shape === 'too_deep') throw bodyErrors.tooDeep();
  if (shape === 'too_many_elements') throw bodyErrors.tooManyElements(maxJsonElements);
  try {
    return raw.length === 0 ? {} : (JSON.parse(raw.toString('utf8')) as unknown);
  } catch (err) {
    throw errors.invalidJson(err instanceof Error ? err.message : String(err));
  }
}

async function explain(deps: DebugRouteDeps, req: Request, signal: AbortSignal): Promise<JsonObject> {
  const runtime = deps.store.current;
  if (runtime === undefined) throw errors.notReady();
  const body = parsedBody(req.body, deps.maxJsonElements ?? DEFAULT_MAX_JSON_ELEMENTS);
  if (!isObject(body) || typeof body.model !== 'string') throw errors.badRequest('send the request body a client would send (a JSON object with model)');
  // Authorization carries the admin token here; the credential of the caller to explain comes in
  // its own header (x-api-key and api-key pass as they are).
  const header = (name: string): string | undefined => (name === 'authorization' ? req.get(CALLER_AUTHORIZATION) : req.get(name));
  const caller: Caller = deps.auth === undefined ? ANONYMOUS : await deps.auth.authenticate(header, runtime.apiKeys);
  const request = body as JsonObject & { model: string };
  const decision = explainRoute(runtime, deps.router, { body: request, header, caller, checkAccess: deps.auth !== undefined });
  if (typeof decision.route !== 'string') return decision;
  // The DataPolicy that would govern it; with x-request-id, whether that id would be sampled.
  const explained = { ...decision, dataPolicy: explainDataPolicy(runtime.snapshot.dataPolicies, caller, decision.route, header, deps.sampler, req.get('x-request-id')) };
  if (deps.transport === undefined) return explained;
  // The guardrails of this caller on this route, run on the sample as a dry run: nothing goes upstream.
  const guardrails = RuntimeGuardrails.build(runtime.snapshot.guardrails ?? [], { providers: runtime.providers, transport: deps.transport });
  const active = guardrails.forRequest(caller, decision.route);
  if (active === undefined) return { ...explained, guardrails: null };
  const route = runtime.snapshot.routes.find((r) => r.id === decision.route);
  const info = { requestId: 'debug-route', route: decision.route, model: route?.model ?? request.model, caller: caller.id, signal };
  const run = await dryRunRequest(active, request, estimatePromptTokens(request), info);
  // The route's pass-through endpoints: no rule reads them, so the policies refuse or allow them whole.
  const passThrough = dryRunUninspected(runtime.snapshot.guardrails ?? [], caller, decision.route, route?.passThrough?.endpoints ?? []);
  return { ...explained, guardrails: { ...run, ...(passThrough === undefined ? {} : { passThrough }) } as unknown as JsonObject };
}

/**
 * POST /debug/route on the admin port (behind the admin token): the routing decision for a request
 * body, with the caller's headers (x-task-type, ..., and the caller's Authorization value in
 * x-tollgate-caller-authorization), without sending anything upstream. A refusal (404, 403,
 * 400) comes back as the client would get it, in `error`. `dataPolicy` is the DataPolicy that would
 * govern the request (null when none). The request rules of the GuardrailPolicies
 * that apply run on the body as a dry run (`guardrails`: each rule's result, findings by type only;
 * `guardrails.passThrough`: whether the route's pass-through endpoints would be refused).
 */
export function mountDebugRoute(app: Express, deps: DebugRouteDeps): void {
  app.post('/debug/route', express.raw({ type: 'application/json', limit: SMALL_BODY_LIMIT }), (req, res) => {
    // A webhook asked by the dry run stops waiting when the admin client leaves.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    explain(deps, req, gone.signal).then(
      (decision) => res.json({ decision }),
      (err: unknown) => {
        const e = err instanceof GatewayError ? err : errors.internal(err);
        res.status(e.status).json({ decision: null, ...e.toBody() });
      },
    );
  });
}
