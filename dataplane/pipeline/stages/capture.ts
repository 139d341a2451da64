import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import type { Caller } from '../../core/caller.js';
import type { JsonObject } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { CaptureInput } from '../../policy/capture/capture-record.js';
import type { CaptureDecision, CaptureService } from '../../policy/capture/capture-service.js';
import { selectPolicy } from '../../policy/capture/select-policy.js';
import { StreamAssembler } from '../../policy/capture/stream-assembler.js';
import type { RequestContext } from '../request-context.js';
import type { Stage } from '../stage.js';
import { type Ending, thenRelease } from './settle.js';

/** A client that left before its answer was written (nginx's "client closed request", as the access log). */
const CLIENT_CLOSED_REQUEST = 499;

/** What the gateway did with the request: the status the client got and a stable word for it. */
function outcome(ctx: RequestContext, ending: Ending): Pick<CaptureInput, 'status' | 'decision'> {
  if (ending.failed) {
    const { error } = ending;
    return error instanceof GatewayError ? { status: error.status, decision: error.code } : { status: 500, decision: 'internal_error' };
  }
  const reply = ctx.reply;
  if (reply === undefined) return { status: CLIENT_CLOSED_REQUEST, decision: 'client_gone' };
  if (reply.kind === 'cached') return { status: 200, decision: 'cached' };
  if (reply.kind === 'stream') {
    // The status line went out with the first chunk: how the stream ended is the decision.
    const { meter } = reply;
    if (meter.cutReason !== undefined) return { status: 200, decision: 'stream_cut' };
    if (ctx.client.aborted) return { status: 200, decision: 'client_gone' };
    return { status: 200, decision: meter.truncated ? 'stream_failed' : 'served' };
  }
  return ctx.client.aborted ? { status: CLIENT_CLOSED_REQUEST, decision: 'client_gone' } : { status: 200, decision: 'served' };
}

/** The answer as the client got it (after response guardrails); a stream as its assembled result. */
function responseOf(ctx: RequestContext, assembler: StreamAssembler | undefined): JsonObject | undefined {
  const reply = ctx.reply;
  if (reply === undefined) return undefined;
  if (reply.kind === 'response') return reply.body;
  if (reply.kind === 'stream') return assembler?.result();
  const { cached } = reply;
  if (cached.kind === 'response') return cached.body;
  const assembled = new StreamAssembler();
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

function captureInput(ctx: RequestContext, decision: CaptureDecision, startedAtMs: number, ending: Ending, assembler: StreamAssembler | undefined): CaptureInput {
  const route = ctx.routeConfig;
  const input: CaptureInput = {
    requestId: ctx.requestId,
    startedAtMs,
    durationMs: Date.now() - startedAtMs,
    caller: recordCaller(ctx.caller),
    routeId: route.id,
    routeNamespace: route.namespace,
    model: route.model,
    stream: ctx.request.stream,
    ...outcome(ctx, ending),
    requestBody: upstreamBody(ctx),
  };
  const trace = ctx.trace?.traceIds();
  if (trace !== undefined) {
    input.traceId = trace.traceId;
    input.spanId = trace.spanId;
  }
  if (ctx.decision !== undefined) input.rule = ctx.decision.rule;
  const target = ctx.served?.target;
  if (target !== undefined) {
    input.provider = target.providerId;
    input.upstreamModel = target.model;
  }
  const settlement = ctx.settlement;
  if (settlement?.usage !== undefined) {
    const { inputTokens, outputTokens, cachedInputTokens } = settlement.usage;
    input.tokens = { input: inputTokens, output: outputTokens, cached: cachedInputTokens };
    input.costUsd = settlement.costUsd;
  }
  if (decision.mode !== 'Metadata' && decision.policy.config.parts.response) {
    const response = responseOf(ctx, assembler);
    if (response !== undefined) input.response = response;
  }
  return input;
}

/**
 * Not an async function around `await next()`: its frame and promises per captured request, and
 * TurboFan inlined the rest of the request path into it (a different shape of hot code than a
 * request without capture runs). The record is made once the later stages have ended, as before.
 */
function governed(service: CaptureService, config: DataPolicyConfig, ctx: RequestContext, next: () => Promise<void>): Promise<void> {
  const decision = service.decideFor(config, ctx.requestId, ctx.header);
  ctx.events.emit('dataPolicy', {
    policy: config.id,
    mode: decision?.mode ?? config.mode,
    recorded: decision !== undefined,
    ...(decision?.optedOut === true ? { optedOut: true as const } : {}),
  });
  if (decision === undefined) return next();
  const startedAtMs = Date.now();
  let assembler: StreamAssembler | undefined;
  if (decision.mode !== 'Metadata' && config.parts.response && ctx.request.stream) {
    const assembled = (assembler = new StreamAssembler());
    // The stream's meter exists once meter has run; the hook sees each chunk as it is written
    // (after response guardrails), and the record is made once, from the assembled answer.
    ctx.beforeReply.push((c) => {
      if (c.reply?.kind === 'stream') c.reply.meter.onChunk = (chunk) => assembled.add(chunk);
      return Promise.resolve();
    });
  }
  // After the answer was written and metered (meter settles in its own release, inside this one).
  return thenRelease(next, (ending) => service.record(decision, captureInput(ctx, decision, startedAtMs, ending, assembler)));
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
