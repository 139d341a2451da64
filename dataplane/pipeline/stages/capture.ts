import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import type { Caller } from '../../core/caller.js';
import type { JsonObject } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { CaptureInput } from '../../policy/capture/capture-record.js';
import type { CaptureDecision, CaptureService } from '../../policy/capture/capture-service.js';
import { selectPolicy } from '../../policy/capture/select-policy.js';
import { recordNamespace } from '../../policy/capture/serialise-capture.js';
import { STREAM_TEXT_BUDGET, StreamAssembler } from '../../policy/capture/stream-assembler.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';
import { type Ending, thenRelease } from './settle.js';

/** A client that left before its answer was written (nginx's "client closed request", as the access log). */
const CLIENT_CLOSED_REQUEST = 499;

/**
 * What the gateway did with the request, into `input`: the status the client got and a stable word
 * for it. Written into the record rather than returned as an object to spread: one object per record.
 */
function setOutcome(input: CaptureInput, ctx: RequestContext, ending: Ending): void {
  if (ending.failed) {
    const { error } = ending;
    if (error instanceof GatewayError) {
      input.status = error.status;
      input.decision = error.decision;
    } else {
      input.status = 500;
      input.decision = 'internal_error';
    }
    return;
  }
  input.decision = decisionOf(ctx);
  // A stream's status line (200) went out with its first chunk, however it ended; a client that left
  // before any other answer was written got none (499).
  input.status = input.decision === 'client_gone' && ctx.reply?.kind !== 'stream' ? CLIENT_CLOSED_REQUEST : 200;
}

/** The decision of a request the stages completed. */
function decisionOf(ctx: RequestContext): string {
  const reply = ctx.reply;
  if (reply === undefined) return 'client_gone';
  if (reply.kind === 'cached') return 'cached';
  if (reply.kind === 'stream') {
    // The status line went out with the first chunk: how the stream ended is the decision.
    const { meter } = reply;
    if (meter.cutReason !== undefined) return 'stream_cut';
    if (ctx.client.aborted) return 'client_gone';
    return meter.truncated ? 'stream_failed' : 'served';
  }
  return ctx.client.aborted ? 'client_gone' : 'served';
}

/** The answer as the client got it (after response guardrails); a stream as its assembled result. */
function responseOf(ctx: RequestContext, assembler: StreamAssembler | undefined, maxChars: number): JsonObject | undefined {
  const reply = ctx.reply;
  if (reply === undefined) return undefined;
  if (reply.kind === 'response') return reply.body;
  if (reply.kind === 'stream') return assembler?.result();
  const { cached } = reply;
  if (cached.kind === 'response') return cached.body;
  const assembled = new StreamAssembler(maxChars);
  for (const chunk of cached.chunks) assembled.add(chunk);
  return assembled.result();
}

/**
 * The request as it went upstream: after the guardrail stage masked it; the client's own Responses
 * request when the serving target took it natively, else the canonical translation.
 */
function upstreamBody(ctx: RequestContext): JsonObject {
  const { native, body } = ctx.request;
  if (native === undefined) return body;
  const target = ctx.served?.target;
  const provider = target === undefined ? undefined : ctx.runtime.providers.get(target.providerId);
  return provider?.adapter.nativeApis?.includes(native.api) === true ? native.body : body;
}

// Per caller object (the authenticator keeps one per identity): the record's caller, made once, so
// that the metadata line's builder finds its JSON by object as well (metadata-line.ts).
const recordCallers = new WeakMap<Caller, CaptureInput['caller']>();
function recordCaller(caller: Caller): CaptureInput['caller'] {
  let recorded = recordCallers.get(caller);
  if (recorded === undefined) {
    const { kind, namespace, name } = caller;
    recorded = Object.freeze({ kind, ...(namespace === undefined ? {} : { namespace }), ...(name === undefined ? {} : { name }) });
    recordCallers.set(caller, recorded);
  }
  return recorded;
}

/**
 * The record's input, every field in one order (undefined where the request has none): the
 * metadata line's builder reads them at its sites from one object layout.
 */
function captureInput(ctx: RequestContext, decision: CaptureDecision, startedAtMs: number, ending: Ending, assembler: StreamAssembler | undefined): CaptureInput {
  const route = ctx.routeConfig;
  const trace = ctx.trace?.traceIds();
  const target = ctx.served?.target;
  const settlement = ctx.settlement;
  const usage = settlement?.usage;
  const input: CaptureInput = {
    requestId: ctx.requestId,
    traceId: trace?.traceId,
    spanId: trace?.spanId,
    startedAtMs,
    durationMs: Date.now() - startedAtMs,
    caller: recordCaller(ctx.caller),
    routeId: route.id,
    routeNamespace: route.namespace,
    rule: ctx.decision?.rule,
    provider: target?.providerId,
    model: route.model,
    upstreamModel: target?.model,
    stream: ctx.request.stream,
    status: 0,
    decision: '',
    tokens: usage === undefined ? undefined : { input: usage.inputTokens, output: usage.outputTokens, cached: usage.cachedInputTokens },
    costUsd: usage === undefined ? undefined : settlement?.costUsd,
    requestBody: upstreamBody(ctx),
    response: decision.mode !== 'Metadata' && decision.policy.config.parts.response ? responseOf(ctx, assembler, decision.policy.config.maxRecordBytes) : undefined,
  };
  setOutcome(input, ctx, ending);
  return input;
}

/**
 * Not an async function around `await next()`: its frame and promises per captured request, and
 * TurboFan inlined the rest of the request path into it (a different shape of hot code than a
 * request without capture runs). The record is made once the later stages have ended, as before.
 */
function governed(service: CaptureService, config: DataPolicyConfig, ctx: RequestContext, next: () => Promise<void>): Promise<void> {
  const decision = service.decideFor(config, ctx.requestId, ctx.header);
  const mode = decision?.mode ?? config.mode;
  // Two literals rather than a spread of one into the other: no object copied per request.
  ctx.events.emit('dataPolicy', decision?.optedOut === true ? { policy: config.id, mode, recorded: true, optedOut: true } : { policy: config.id, mode, recorded: decision !== undefined });
  if (decision === undefined) return next();
  const startedAtMs = Date.now();
  let assembler: StreamAssembler | undefined;
  if (decision.mode !== 'Metadata' && config.parts.response && ctx.request.stream) {
    // At most what a record keeps, and within what all recorded streams may keep at once (STREAM_TEXT_BUDGET).
    const namespace = recordNamespace({ caller: ctx.caller, routeNamespace: ctx.routeConfig.namespace });
    const assembled = (assembler = new StreamAssembler(config.maxRecordBytes, STREAM_TEXT_BUDGET, namespace));
    // The stream's meter exists once meter has run; the hook sees each chunk as it is written
    // (after response guardrails), and the record is made once, from the assembled answer.
    ctx.beforeReply.push((c) => {
      if (c.reply?.kind === 'stream') c.reply.meter.onChunk = (chunk) => assembled.add(chunk);
      return Promise.resolve();
    });
  }
  // After the answer was written and metered (meter settles in its own release, inside this one).
  return thenRelease(next, (ending) => {
    try {
      service.record(decision, captureInput(ctx, decision, startedAtMs, ending, assembler));
    } finally {
      assembler?.release();
    }
  });
}

/** Whether a DataPolicy governs this request's caller on the route (its capture stage recorded it, or will). */
export function governedByDataPolicy(ctx: RequestContext, routeId: string): boolean {
  const policies = ctx.runtime.snapshot.dataPolicies;
  return policies !== undefined && selectPolicy(policies, ctx.caller, routeId) !== undefined;
}

/**
 * DataPolicies (issue 16): the policy that governs the caller and route on the pinned snapshot
 * (route, then ServiceAccount or API key, then namespace), sampled per request id; after the
 * request is answered and metered, one record in the mode it allows goes to the capture queues
 * (shaped and redacted in the data plane, never waited for). It runs after the guardrail stage,
 * so the request content recorded is what went upstream. Without a DataPolicy for the request it
 * costs a few map lookups and allocates nothing.
 */
export function capture(service: CaptureService): Stage {
  return {
    name: 'capture',
    // A snapshot without a DataPolicy records nothing: its requests skip this stage.
    appliesTo: (runtime) => (runtime.snapshot.dataPolicies?.length ?? 0) > 0,
    run(ctx, next) {
      const policies = ctx.runtime.snapshot.dataPolicies;
      if (policies === undefined) return next();
      const config = selectPolicy(policies, ctx.caller, ctx.routeConfig.id);
      if (config === undefined) return next();
      // A throw comes as the promise's rejection, as from the async function this was.
      try {
        return governed(service, config, ctx, next);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
