import { routeLimits } from '../../config/route-limits.js';
import type { TargetConfig } from '../../config/snapshot.js';
import type { JsonObject, Usage } from '../../core/canonical.js';
import { askedPriceMultiplier, costUsd } from '../../metering/cost.js';
import { type EstimateReason, estimatedUsage, type MeteredUsage, responseUsage } from '../../metering/settled-usage.js';
import { StreamMeter } from '../../metering/stream-meter.js';
import { codeInterpreterAsk, containerGbOfResponse } from '../../metering/container-sessions.js';
import { DEFAULT_REASONING_TOKENS_PER_SECOND, hiddenReasoningBound } from '../../metering/reasoning-bound.js';
import { outputMultiplier } from '../../metering/output-bound.js';
import { type UsageRecord, type UsageSink, usageRecord } from '../../metering/usage-record.js';
import type { RequestContext, StreamOutcome } from '../request-context.js';
import type { Stage } from '../stage.js';
import { thenRelease } from './settle.js';
import { GatewayError } from '../../core/gateway-error.js';
import { heldPromptTokens, worstCase } from '../../governance/budget/budget-admitter.js';

/** The code a request cut by its pod's drain is answered with (errors.shuttingDown). */
const SHUTTING_DOWN = 'gateway_shutting_down';

/**
 * What the request's lost attempts are charged (RequestContext.lostAttempts): the prompt estimate
 * (and the files it names by id, at most its target's window) for one that timed out after sending
 * (a stream's of a model that reasons unseen, with the bound on what it reasoned while it ran), the
 * worst case for an answer too large to read, each at its target's prices, with the tool fees its
 * request makes certain (withCertainToolFees). The upstream may have billed them; spend is never
 * under-counted.
 */
function lostCharge(ctx: RequestContext): { usage: Usage; costUsd: number } | undefined {
  const lost = ctx.lostAttempts;
  if (lost === undefined) return undefined;
  const total: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  let cost = 0;
  const tier = askedPriceMultiplier(ctx.request);
  for (const { target, billed, ranMs } of lost) {
    // Its images at the target's model's bound, files it names but does not carry: promptTokensOn.
    const prompt = ctx.promptTokensOn(target);
    const output = billed === 'worstCase' ? ctx.admissionRequest().maxOutputTokens : ranMs === undefined ? 0 : hiddenReasoning(ctx, target, 0, 0, 0, ranMs);
    const usage = withCertainToolFees(ctx, estimatedUsage(prompt, output, ctx.promptAudioTokens));
    if (tier !== 1) usage.priceMultiplier = tier;
    total.inputTokens += usage.inputTokens;
    total.outputTokens += usage.outputTokens;
    cost += costUsd(usage, target.pricing);
  }
  return { usage: total, costUsd: cost };
}

/** Charges a record: the sink, the settlement admission stages settle with, the event. */
function charge(ctx: RequestContext, sink: UsageSink, target: TargetConfig, usage: Usage, cost: number, estimated: EstimateReason | undefined): UsageRecord {
  const rec = usageRecord(ctx.requestId, ctx.request.op, ctx.routeConfig, target, ctx.request.stream, usage, cost, estimated);
  sink.record(rec);
  ctx.settlement = { usage, costUsd: rec.costUsd };
  ctx.events.emit('metered', rec);
  return rec;
}

/** A request no target served whose lost attempts the upstreams may have billed: charged those (serve calls it before it rethrows). */
export function chargeLostAttempts(ctx: RequestContext, sink: UsageSink): void {
  const first = ctx.lostAttempts?.[0];
  const lost = lostCharge(ctx);
  if (first !== undefined && lost !== undefined) charge(ctx, sink, first.target, lost.usage, lost.costUsd, 'lost_attempt');
}

/** Charges what the served request used, and its lost attempts. */
function record(ctx: RequestContext, sink: UsageSink, metered: MeteredUsage): UsageRecord {
  const served = ctx.served;
  if (served === undefined) throw new Error('meter runs after serve');
  const { target } = served;
  // An estimate does not know the tier the upstream ran at: the one the request asked for (a reported usage says its own).
  if (metered.estimated !== undefined && metered.usage.priceMultiplier === undefined) {
    const tier = askedPriceMultiplier(ctx.request);
    if (tier !== 1) metered.usage.priceMultiplier = tier;
  }
  const cost = costUsd(metered.usage, target.pricing);
  const lost = lostCharge(ctx);
  if (lost === undefined) return charge(ctx, sink, target, metered.usage, cost, metered.estimated);
  const usage = { inputTokens: metered.usage.inputTokens + lost.usage.inputTokens, outputTokens: metered.usage.outputTokens + lost.usage.outputTokens, cachedInputTokens: metered.usage.cachedInputTokens };
  return charge(ctx, sink, target, usage, cost + lost.costUsd, metered.estimated ?? 'lost_attempt');
}

/**
 * Meters a served request: a response from its usage (or the estimate, marked) before it is written,
 * so that its cost is a header; a stream from what it carried, once it has ended however it ended.
 */
export function meter(sink: UsageSink): Stage {
  return {
    name: 'meter',
    // Not an async function: a stream's meter would keep its suspended frame for as long as the
    // stream is held. A throw still comes as the promise's rejection, as from an async function.
    run(ctx, next) {
      try {
        return meterServed(ctx, next, sink);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

function meterServed(ctx: RequestContext, next: () => Promise<void>, sink: UsageSink): Promise<void> {
  const served = ctx.served;
  if (served === undefined) return next();
  const { outcome } = served;
  // Estimated on the target that served (its model's image bound, its window): promptTokensOn.
  const promptTokens = ctx.promptTokensOn(served.target);
  if (outcome === undefined) {
    if (cutByShutdown(ctx)) {
      chargeWorstCase(ctx, sink);
      return Promise.resolve();
    }
    // The client left after the request reached an upstream: charge the prompt estimate; nothing is
    // written. A stream it left before its first answer token may have reasoned all that time unseen.
    const reasoned = ctx.request.stream ? hiddenReasoning(ctx, served.target, served.sentAt ?? 0, 0, 0) : 0;
    record(ctx, sink, { usage: withCertainToolFees(ctx, estimatedUsage(promptTokens, reasoned, ctx.promptAudioTokens)), estimated: reasoned > 0 ? 'cut_reasoning_bound' : 'client_gone' });
    return Promise.resolve();
  }
  if (outcome.kind === 'response') {
    const metered = inBackground(ctx) && unfinished(outcome.body) ? backgroundWorstCase(ctx) : responseUsage(outcome.usage, outcome.body, promptTokens, ctx.promptAudioTokens);
    const rec = record(ctx, sink, metered);
    ctx.store?.({ kind: 'response', body: outcome.body });
    ctx.headers['x-tollgate-cost-usd'] = rec.costUsd.toFixed(8);
    ctx.reply = { kind: 'response', body: outcome.body, usage: metered.usage };
    return next();
  }
  // A cached stream is held whole until it ends: no more of it than a route's response may be.
  const store = ctx.store;
  const stream = new StreamMeter(promptTokens, store === undefined ? 0 : routeLimits(ctx.routeConfig).maxResponseBytes, ctx.promptAudioTokens);
  if (ctx.guards.length > 0) stream.guard = (soFar) => ctx.overBudget({ usage: soFar, costUsd: costUsd(soFar, outcome.target.pricing) });
  if (store !== undefined) stream.onCompleted = () => store({ kind: 'stream', chunks: stream.chunks });
  ctx.reply = { kind: 'stream', outcome, meter: stream, idleMs: ctx.routeConfig.timeouts.streamIdleMs };
  // A background stream the client left keeps running upstream: its worst case, not what was seen.
  return thenRelease(next, () => void record(ctx, sink, !stream.completed && inBackground(ctx) ? backgroundWorstCase(ctx) : streamUsage(ctx, stream, outcome)));
}

/**
 * What a stream used: what it reported, or what it showed; a stream without usage, cut short
 * (client gone or stopped, upstream broken, budget cut) or ended by a server that ignores
 * include_usage, also the bound on what it reasoned unseen. Before, only what it showed: a
 * reasoning model's hidden reasoning was charged nothing.
 */
function streamUsage(ctx: RequestContext, stream: StreamMeter, outcome: StreamOutcome): MeteredUsage {
  if (stream.reportedUsage) return stream.result();
  return stream.result(hiddenReasoning(ctx, outcome.target, outcome.sentAt, stream.answerAt, stream.outputTokensSeen));
}

/**
 * The reasoning a stream without usage may have made unseen (metering/reasoning-bound.ts), for a model
 * that reasons: one whose pricing sets its speed, or one its adapter says reasons unseen on this
 * request; 0 for any other.
 */
function hiddenReasoning(ctx: RequestContext, target: TargetConfig, sentAt: number, answerAt: number, shown: number, cutAt = Date.now()): number {
  let rate = target.pricing.reasoningTokensPerSecond;
  if (rate === undefined) {
    const provider = ctx.runtime.providers.get(target.providerId);
    if (provider?.adapter.reasonsUnseen?.(ctx.request, target.model, provider.config) !== true) return 0;
    rate = DEFAULT_REASONING_TOKENS_PER_SECOND;
  }
  return hiddenReasoningBound(sentAt, answerAt, cutAt, rate, outputMultiplier(ctx.request), ctx.admissionRequest().maxOutputTokens - shown);
}

/**
 * A non-streaming request its pod's drain ended before its upstream answered (its client was told
 * to retry), whose attempt was then cut: the upstream may finish and bill it, unseen. A stream cut
 * so stops upstream with its client, as any stream does.
 */
function cutByShutdown(ctx: RequestContext): boolean {
  const reason = ctx.client.abortReason;
  return !ctx.request.stream && reason instanceof GatewayError && reason.code === SHUTTING_DOWN;
}

/**
 * Charged its worst case, as its budget holds were when the pod stopped (BudgetAdmitter
 * settleOpenAtWorstCase), so that its usage record and history say what its Budgets were charged.
 * Before, its history said $0.
 */
function chargeWorstCase(ctx: RequestContext, sink: UsageSink): void {
  const served = ctx.served;
  if (served === undefined) throw new Error('meter runs after serve');
  const request = ctx.admissionRequest();
  const usage = estimatedUsage(heldPromptTokens(request.route, request.promptTokens, request.media), request.maxOutputTokens, ctx.promptAudioTokens);
  charge(ctx, sink, served.target, usage, worstCase(request.route, request.promptTokens, request.maxOutputTokens, request.units, askedPriceMultiplier(ctx.request), request.media).usd, 'shutdown');
}

/**
 * A background Response is answered before it runs (status queued): what it will use is known only
 * to a later retrieval, which may never come. It is charged its worst case now, as is a background
 * stream the client left (the job runs on upstream).
 */
const inBackground = (ctx: RequestContext): boolean => ctx.request.native?.api === 'responses' && ctx.request.native.body.background === true;
const backgroundWorstCase = (ctx: RequestContext): MeteredUsage => ({
  usage: withCertainToolFees(ctx, estimatedUsage(ctx.promptTokensOn(ctx.served?.target), ctx.admissionRequest().maxOutputTokens, ctx.promptAudioTokens)),
  estimated: 'background',
});

/**
 * `usage` with the tool fees certain once the upstream has the request, for a request charged before
 * or without its answer: the auto containers a Response's code_interpreter tools ask for (made when
 * it starts), and the search a chat request asks a search model for (`web_search_options`: run
 * before its first token).
 */
function withCertainToolFees(ctx: RequestContext, usage: Usage): Usage {
  const native = ctx.request.native;
  if (native?.api === 'responses') {
    const containerGb = containerGbOfResponse(codeInterpreterAsk(native.body), undefined);
    if (containerGb > 0) usage.containerGb = containerGb;
  } else if (native === undefined && ctx.request.op === 'chat' && ctx.request.body.web_search_options !== undefined && ctx.request.body.web_search_options !== null) {
    usage.webSearchCalls = 1;
  }
  return usage;
}

const unfinished = (body: JsonObject): boolean => body.object === 'response' && (body.status === 'queued' || body.status === 'in_progress');
