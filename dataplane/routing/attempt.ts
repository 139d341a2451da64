import type { TargetConfig } from '../config/snapshot.js';
import type { RuntimeProvider } from '../config/runtime-snapshot.js';
import { SseParser } from '../sse/sse-parser.js';
import { type AttemptTelemetry, requestTelemetry } from '../telemetry/gateway-observer.js';
import {
  type CanonicalRequest,
  type JsonObject,
  RequestTranslationError,
  type StreamStep,
  type UpstreamFailure,
  type UpstreamHttpRequest,
  type Usage,
} from '../providers/types.js';

export type AttemptResult =
  | { ok: true; kind: 'response'; body: JsonObject; usage?: Usage; status: number }
  | { ok: true; kind: 'stream'; first: StreamStep[]; rest: AsyncGenerator<StreamStep, void, undefined> }
  | { ok: false; failure: UpstreamFailure }
  /** `sent`: the request had been handed to the upstream before the client left. */
  | { ok: false; clientGone: true; sent: boolean };

/** Aborted by the router when an attempt runs out of time. */
export class AttemptTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

async function* streamSteps(body: AsyncIterable<Uint8Array>, req: CanonicalRequest, provider: RuntimeProvider): AsyncGenerator<StreamStep, void, undefined> {
  const binary = provider.adapter.createByteStreamTransformer?.(req);
  if (binary !== undefined) {
    // Providers that do not stream SSE (AWS event-stream framing) decode the bytes themselves.
    for await (const bytes of body) {
      for (const step of binary.onBytes(bytes)) {
        yield step;
        if (step.done === true || step.failure !== undefined) return;
      }
    }
    yield binary.onEnd();
    return;
  }
  const parser = new SseParser();
  const transformer = provider.adapter.createStreamTransformer(req);
  for await (const bytes of body) {
    for (const event of parser.push(bytes)) {
      const step = transformer.onEvent(event);
      yield step;
      if (step.done === true || step.failure !== undefined) return;
    }
  }
  for (const event of parser.end()) {
    const step = transformer.onEvent(event);
    yield step;
    if (step.done === true || step.failure !== undefined) return;
  }
  yield transformer.onEnd();
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return typeof code === 'string' ? `${code}: ${err.message}${cause}` : `${err.message}${cause}`;
  }
  return String(err);
}

/**
 * Building the upstream request failed: nothing was sent, so this is never the target's fault. A
 * request the adapter cannot express, or one too deep or too large to re-serialise (the engine's
 * RangeError), is the client's (400); anything else is the gateway's own bug. Either way the
 * failure is local: passive health ignores it and the same target is not retried.
 */
function translationFailure(err: unknown): UpstreamFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RequestTranslationError) {
    return {
      kind: 'ClientError',
      status: 400,
      message,
      local: true,
      clientBody: { error: { message, type: 'invalid_request_error', param: err.param, code: 'unsupported_by_provider' } },
    };
  }
  if (err instanceof RangeError) {
    const text = 'the request is too deeply nested or too large to be sent upstream';
    return { kind: 'ClientError', status: 400, message: text, local: true, clientBody: { error: { message: text, type: 'invalid_request_error', param: null, code: 'request_too_complex' } } };
  }
  return { kind: 'ServerError', status: 0, message: `cannot build the upstream request: ${message}`, local: true };
}

/**
 * One attempt against one target. Resolves once the attempt is decided: a full response, a stream
 * whose first event has arrived (the point of no return), or a classified failure.
 */
export async function runAttempt(
  req: CanonicalRequest,
  target: TargetConfig,
  provider: RuntimeProvider,
  baseUrl: string,
  signal: AbortSignal,
  clientSignal: AbortSignal,
): Promise<AttemptResult> {
  const telemetry = requestTelemetry(req).attempt(target, provider, baseUrl);
  return telemetry.settle(await attemptUpstream(req, target, provider, baseUrl, signal, clientSignal, telemetry));
}

async function attemptUpstream(
  req: CanonicalRequest,
  target: TargetConfig,
  provider: RuntimeProvider,
  baseUrl: string,
  signal: AbortSignal,
  clientSignal: AbortSignal,
  telemetry: AttemptTelemetry,
): Promise<AttemptResult> {
  let sent = false;
  const fail = (err: unknown): AttemptResult => {
    if (clientSignal.aborted) return { ok: false, clientGone: true, sent };
    if (signal.reason instanceof AttemptTimeout) return { ok: false, failure: { kind: 'Timeout', status: 0, message: signal.reason.message } };
    return { ok: false, failure: { kind: 'ConnectionError', status: 0, message: describeThrown(err) } };
  };
  let accessToken: string | undefined;
  if (provider.tokenSource !== undefined) {
    try {
      accessToken = await provider.tokenSource.token(signal);
    } catch (err) {
      const failed = fail(err);
      if (!failed.ok && 'failure' in failed) failed.failure.message = `could not obtain an access token: ${failed.failure.message}`;
      return failed;
    }
  }
  const { anthropic, azure, bedrock, vertex } = provider.config;
  let upstreamReq: UpstreamHttpRequest;
  try {
    upstreamReq = provider.adapter.buildRequest(req, {
      baseUrl,
      model: target.model,
      headers: provider.config.headers,
      ...(provider.config.apiKey === undefined ? {} : { apiKey: provider.config.apiKey }),
      settings: { anthropic, azure, bedrock, vertex },
      ...(accessToken === undefined ? {} : { accessToken }),
      nowMs: Date.now(),
    });
  } catch (err) {
    return { ok: false, failure: translationFailure(err) };
  }
  telemetry.inject(upstreamReq.headers);
  try {
    sent = true;
    const res = await provider.transport.send(upstreamReq, { signal, connectTimeoutMs: provider.config.connectTimeoutMs });
    if (res.status < 200 || res.status >= 300 || !req.stream) {
      const text = await res.text();
      const parsed = provider.adapter.parseResponse(req, res.status, res.headers, text);
      if (!parsed.ok) return { ok: false, failure: parsed.failure };
      return parsed.usage === undefined
        ? { ok: true, kind: 'response', body: parsed.body, status: res.status }
        : { ok: true, kind: 'response', body: parsed.body, usage: parsed.usage, status: res.status };
    }
    const steps = streamSteps(res.body, req, provider);
    const first: StreamStep[] = [];
    for (;;) {
      const next = await steps.next();
      if (next.done === true) break;
      const step = next.value;
      if (step.failure !== undefined && first.every((s) => s.chunks.length === 0)) {
        res.discard();
        return { ok: false, failure: step.failure };
      }
      first.push(step);
      if (step.chunks.length > 0 || step.done === true || step.failure !== undefined) break;
    }
    return { ok: true, kind: 'stream', first, rest: steps };
  } catch (err) {
    return fail(err);
  }
}
