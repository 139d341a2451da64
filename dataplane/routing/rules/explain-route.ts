import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../../runtime/rule-matcher.js';
import { accessDenied } from '../../governance/access.js';
import { selectRoute } from '../../governance/route-selection.js';
import type { Caller } from '../../core/caller.js';
import { estimatePromptTokens, type PromptParts } from '../../metering/token-estimate.js';
import type { JsonObject } from '../../core/canonical.js';
import { errors } from '../../core/gateway-error.js';
import type { Router } from '../router.js';

/** A client request as /debug/route receives it: the body, its headers, and the verified caller. */
export interface ExplainRequest {
  body: JsonObject & { model: string };
  header: HeaderLookup;
  caller: Caller;
  /** Identity is on: routes admit callers by their access rules (off: every caller is anonymous). */
  checkAccess: boolean;
}

/**
 * The routing decision for one request, as JSON, without sending anything upstream: route, rule,
 * strategy, candidates in order with their health, skipped targets and why. Throws the GatewayError
 * the client would get (404 unknown model, 403 access or residency, 400 context window).
 */
export function explainRoute(runtime: RuntimeSnapshot, router: Router, req: ExplainRequest): JsonObject {
  const { body, header, caller } = req;
  const selected = selectRoute(runtime.routesByModel.get(body.model), caller, header, runtime.snapshot.namespaces, req.checkAccess);
  if (selected === undefined) throw errors.modelNotFound(body.model);
  if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
  const route = selected.route;
  const parts: PromptParts = { tokens: 0 };
  const promptTokens = estimatePromptTokens(body, parts);
  const decision = router.decide(runtime, route, {
    caller,
    header,
    namespaces: runtime.snapshot.namespaces,
    body,
    stream: body.stream === true,
    promptTokens: parts.windowTokens ?? promptTokens,
  });
  const health = (providerId: string, model: string): JsonObject => {
    const view = router.health.view({ providerId, model, priority: 0, weight: 0, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } });
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
