import { canonicalOnly } from '../../core/native-request.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { type ActiveGuardrails, type RequestInfo, RuntimeGuardrails } from '../../policy/guardrail/guardrail-engine.js';
import type { GuardrailDecision } from '../../policy/guardrail/guardrail-decision.js';
import { GUARDRAIL_HEADER } from '../../policy/guardrail/guardrail-refusal.js';
import { guardStream, StreamGuard } from '../../policy/guardrail/guardrail-stream.js';
import type { Transport } from '../../upstream/transport.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';

/** A block counts as the request's outcome (guardrail_blocked in usage records and the UsageReport). */
function blocked(ctx: RequestContext): void {
  ctx.events.emit('admission', { result: 'guardrail_blocked' });
}

function addPolicies(ctx: RequestContext, policies: readonly string[]): void {
  if (policies.length === 0) return;
  const now = ctx.headers[GUARDRAIL_HEADER]?.split(', ') ?? [];
  ctx.headers[GUARDRAIL_HEADER] = [...new Set([...now, ...policies])].join(', ');
}

/** The response rules on what is about to be written: a complete answer, a cached one, or a stream. */
async function checkReply(ctx: RequestContext, active: ActiveGuardrails, info: RequestInfo): Promise<void> {
  const reply = ctx.reply;
  if (reply === undefined) return;
  if (reply.kind === 'stream') {
    const guard = new StreamGuard(active, info);
    const outcome = guardStream(reply.outcome, guard, (decisions) => {
      ctx.events.emit('guardrails', decisions);
      if (guard.wasBlocked) blocked(ctx);
    });
    // The meter keeps the chunks as written, after this caller's rules changed them: a cache entry
    // may be served to callers other rules govern (shareAcrossCallers), so a stream this guard
    // masked or blocked is not stored (a JSON answer is stored as the upstream sent it, and checked
    // again at every replay).
    const store = reply.meter.onCompleted;
    if (store !== undefined) reply.meter.onCompleted = () => void (guard.wasBlocked || guard.maskedBy.length > 0 ? undefined : store());
    ctx.reply = { ...reply, outcome };
    return;
  }
  const cached = reply.kind === 'cached' ? reply.cached : undefined;
  if (cached?.kind === 'stream') {
    // A cached stream goes out at once: checked whole, as one step that ends it.
    const guard = new StreamGuard(active, info);
    try {
      const step = await guard.step({ chunks: cached.chunks, done: true });
      ctx.reply = { kind: 'cached', cached: { kind: 'stream', chunks: step.chunks } };
    } finally {
      ctx.events.emit('guardrails', guard.recorded);
      if (guard.wasBlocked) blocked(ctx);
    }
    return;
  }
  const body = reply.kind === 'response' ? reply.body : cached?.kind === 'response' ? cached.body : undefined;
  if (body === undefined) return;
  const result = await active.checkResponse(body, info);
  ctx.events.emit('guardrails', result.decisions);
  if (result.blocked !== undefined) {
    blocked(ctx);
    throw result.blocked;
  }
  addPolicies(ctx, result.masked);
  if (reply.kind === 'response') ctx.reply = { ...reply, body: result.body };
  else ctx.reply = { kind: 'cached', cached: { kind: 'response', body: result.body } };
}

/**
 * A request that would go upstream as the client sent it (a Responses request served natively)
 * carries more than its translation, which the rules just read: reasoning items, custom tools and
 * their calls, tools the translation cannot carry. The rules read all of it too. A block refuses it;
 * a mask sends the translation instead (it does not carry what was masked, or the rules would have
 * masked it there), or refuses a request only a native target can serve.
 */
async function checkNative(ctx: RequestContext, active: ActiveGuardrails, info: RequestInfo, before: readonly GuardrailDecision[]): Promise<void> {
  const native = ctx.request.native;
  if (native === undefined) return;
  const result = await active.checkNative(native.body, info);
  // One decision per rule: what the translation already showed a rule is not reported twice.
  const decided = new Set(before.map((d) => `${d.policy}/${d.rule}`));
  ctx.events.emit('guardrails', result.decisions.filter((d) => !decided.has(`${d.policy}/${d.rule}`)));
  if (result.blocked !== undefined) {
    blocked(ctx);
    throw result.blocked;
  }
  if (result.masked.length > 0) {
    ctx.request = canonicalOnly(ctx.request, `guardrail policy ${result.masked.join(', ')} masked it`);
    addPolicies(ctx, result.masked);
  }
}

/** The request rules of the policies that govern this request; response rules are queued for the reply. */
async function checkRequest(ctx: RequestContext, next: () => Promise<void>, active: ActiveGuardrails): Promise<void> {
  const route = ctx.routeConfig;
  const info: RequestInfo = { requestId: ctx.requestId, route: route.id, model: route.model, caller: ctx.caller.id, signal: ctx.signal };
  const result = await active.checkRequest(ctx.request.body, ctx.promptTokens, info);
  ctx.events.emit('guardrails', result.decisions);
  if (result.blocked !== undefined) {
    blocked(ctx);
    throw result.blocked;
  }
  if (result.masked.length > 0) {
    ctx.request = { ...canonicalOnly(ctx.request, `guardrail policy ${result.masked.join(', ')} masked it`), body: result.body };
    addPolicies(ctx, result.masked);
  } else if (ctx.request.native !== undefined && active.readsRequestText && active.responseRules.length === 0) {
    // (Under response rules the translation is sent in any case: see below.)
    await checkNative(ctx, active, info, result.decisions);
  }
  if (active.responseRules.length > 0) {
    // Response rules read canonical answers: a client API served natively is translated instead.
    ctx.request = canonicalOnly(ctx.request, 'guardrail response rules apply on this route');
    ctx.beforeReply.push((c) => checkReply(c, active, info));
  }
  return next();
}

/**
 * GuardrailPolicies (issue 17): the request rules run here, after access and before rate limits,
 * the cache and budgets, so a blocked request costs nothing and a masked one is what goes
 * upstream; the response rules run on the reply just before it is written (answers, cache hits and
 * streams through the held-back window). Policies are compiled once per snapshot.
 */
export function guardrail(transport: Transport): Stage {
  const compiled = new WeakMap<RuntimeSnapshot, RuntimeGuardrails>();
  const of = (runtime: RuntimeSnapshot): RuntimeGuardrails => {
    let g = compiled.get(runtime);
    if (g === undefined) {
      // buildRuntimeSnapshot ran the same load checks: a loaded snapshot compiles.
      g = RuntimeGuardrails.build(runtime.snapshot.guardrails ?? [], { providers: runtime.providers, transport });
      compiled.set(runtime, g);
    }
    return g;
  };
  return {
    name: 'guardrail',
    // Most snapshots have no GuardrailPolicy: their requests skip this stage altogether.
    appliesTo: (runtime) => of(runtime).size > 0,
    run(ctx, next) {
      const active = of(ctx.runtime).forRequest(ctx.caller, ctx.routeConfig.id);
      return active === undefined ? next() : checkRequest(ctx, next, active);
    },
  };
}
