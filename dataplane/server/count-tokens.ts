import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonObject } from '../core/canonical.js';
import type { TargetConfig } from '../config/snapshot.js';
import { errors, GatewayError } from '../core/gateway-error.js';
import { accessDenied } from '../governance/access.js';
import { selectRoute } from '../governance/route-selection.js';
import { toCanonicalRequest } from '../inbound/anthropic/messages-request.js';
import { estimatePromptTokens } from '../metering/token-estimate.js';
import { adapterTarget, providerSecrets } from '../providers/registry.js';
import { scrubText } from '../providers/scrub-credentials.js';
import { isObject } from '../providers/shared/json-guards.js';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { RequestTelemetry } from '../telemetry/gateway-observer.js';
import { sendForWhole } from '../upstream/read-capped.js';
import { readJsonBody } from './body/json-body.js';
import { requestRulesApply } from '../policy/guardrail/guardrail-engine.js';
import { callerResidency, violatedPolicy } from '../routing/rules/residency.js';
import { admitPassThrough } from './passthrough/passthrough-route.js';
import { identifyCaller } from './identify-caller.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import type { Admitter } from '../governance/types.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { RequestBodyLimits } from './body/json-body.js';
import { headerOf } from './request-headers.js';
import { sendJson } from './send-json.js';

/** An answer is one small object; an error as far as its message goes. */
const ANSWER_LIMIT_BYTES = 64 * 1024;
/** Counting is quick; a client waiting on it is usually about to send the request. */
const COUNT_TIMEOUT_MS = 10_000;

export interface CountTokensDeps {
  store: SnapshotStore;
  auth?: Authenticator;
  rateLimiter?: Admitter;
  bodyLimits: RequestBodyLimits;
  bodyBudget: ByteBudget;
}

type Count = { inputTokens: number; source: 'upstream' | 'estimated' };

/**
 * POST /v1/messages/count_tokens (the Anthropic SDK's `messages.countTokens`, which Claude Code
 * calls to manage its context): the route's first target the caller's residency allows counts when its upstream can (Anthropic),
 * else the gateway estimates, as it does for Budget holds; `x-tollgate-token-count` says which.
 * Authenticated, access-checked and rate limited (one request) like any request on the route; not
 * metered, as counting is free upstream. An upstream that cannot count now (5xx, 429, unreachable)
 * is answered by the estimate; one that refuses the request (4xx) is relayed, scrubbed.
 */
export function countTokensEndpoint(deps: CountTokensDeps): (req: IncomingMessage, res: ServerResponse, telemetry: RequestTelemetry, requestId: string) => Promise<void> {
  return async (req, res, telemetry, requestId) => {
    const runtime = deps.store.current;
    if (runtime === undefined) throw errors.notReady();
    const header = (name: string): string | undefined => headerOf(req, name);
    const caller = await identifyCaller(deps.auth, runtime, header, telemetry);
    const body = await readJsonBody(req, res, deps.bodyLimits, deps.bodyBudget);
    if (!isObject(body)) throw errors.badRequest('the request body must be a JSON object');
    // Validated as the Messages request it counts (max_tokens is not part of a count).
    const canonical = toCanonicalRequest({ ...body, max_tokens: 1, stream: false }, Math.floor(Date.now() / 1000), header('anthropic-beta'));
    const model = String(canonical.body.model);
    const selected = selectRoute(runtime.routesByModel.get(model), caller, header, runtime.snapshot.namespaces, deps.auth !== undefined);
    if (selected === undefined) throw errors.modelNotFound(model);
    if ('denied' in selected) throw accessDenied(caller, selected.denied.config);
    const route = selected.route.config;
    // The route's request rate limits only (no Budget: counting costs nothing), as a pass-through request is admitted.
    const admission = await admitPassThrough(deps.rateLimiter === undefined ? {} : { rateLimiter: deps.rateLimiter }, runtime, caller, route, false);
    admission.settle({ usage: undefined, costUsd: 0 });
    // The prompt goes to the counting upstream: only to one the caller's residency allows, and never
    // past request guardrails (the count runs none of their checks, so it would send what they
    // block or mask); otherwise estimated.
    const residency = callerResidency(caller, route.id, runtime.snapshot.namespaces);
    const guarded = requestRulesApply(runtime.snapshot.guardrails ?? [], caller, route.id);
    const first = guarded ? undefined : [...route.targets].sort((a, b) => a.priority - b.priority).find((t) => residency.length === 0 || violatedPolicy(residency, runtime.providers.get(t.providerId)?.config) === undefined);
    const counted = first === undefined ? undefined : await upstreamCount(runtime, first, body, requestId, canonical.betas);
    const count: Count = counted ?? { inputTokens: estimatePromptTokens(canonical.body), source: 'estimated' };
    sendJson(res, 200, { 'x-tollgate-route': route.id, 'x-tollgate-token-count': count.source }, { input_tokens: count.inputTokens });
  };
}

/** The target's upstream's own count, or undefined when it cannot count (now). Throws the upstream's refusal of the request. */
async function upstreamCount(runtime: RuntimeSnapshot, target: TargetConfig, body: JsonObject, requestId: string, betas: readonly string[] | undefined): Promise<Count | undefined> {
  const provider = runtime.providers.get(target.providerId);
  const counter = provider?.adapter.countTokens;
  const baseUrl = provider?.inProcessEndpoint ?? provider?.config.endpoints[0];
  if (provider === undefined || counter === undefined || baseUrl === undefined) return undefined;
  const upstreamReq = counter.buildRequest(body, adapterTarget(provider, baseUrl, target.model, Date.now()), betas);
  upstreamReq.headers['x-request-id'] = requestId;
  let answer;
  try {
    answer = await sendForWhole(provider.transport, upstreamReq, {
      signal: AbortSignal.timeout(COUNT_TIMEOUT_MS),
      connectTimeoutMs: provider.config.connectTimeoutMs,
      limitBytes: ANSWER_LIMIT_BYTES,
      errorLimitBytes: ANSWER_LIMIT_BYTES,
    });
  } catch {
    return undefined;
  }
  const parsed = counter.parseResponse(answer.status, answer.headers, answer.body.complete ? answer.body.text() : '');
  if (parsed.ok) return { inputTokens: parsed.inputTokens, source: 'upstream' };
  const { failure } = parsed;
  if (failure.kind !== 'ClientError' && failure.kind !== 'ContextLengthExceeded') return undefined;
  const status = failure.status >= 400 && failure.status < 500 ? failure.status : 400;
  throw new GatewayError(status, 'upstream_rejected', 'invalid_request_error', `${target.providerId} refused to count the request: ${scrubText(failure.message, providerSecrets(provider.config))}`);
}
