import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import type { TargetConfig } from '../config/snapshot.js';
import type { RuntimeProvider } from '../runtime/runtime-snapshot.js';
import { type AttemptOwner, AttemptRecorder } from './attempt-recorder.js';
import { ServerAddresses } from './genai-attributes.js';
import { LeanTracer, type LeanSpan } from './lean-tracer.js';
import type { TargetSeries } from './target-series.js';
import type { TelemetryContext } from './telemetry-context.js';
import { samplerFor } from './tracing.js';

function attemptSpan(settle: (a: AttemptRecorder) => void): LeanSpan | undefined {
  const ended: LeanSpan[] = [];
  const tracer = new LeanTracer(samplerFor('parentbased_always_on', 1), { ended: (s) => ended.push(s) });
  const server = tracer.startSpan('chat m', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const owner: AttemptOwner = {
    operationName: 'chat',
    routeId: 'default/r',
    stream: false,
    traceContext: undefined,
    serverSpan: server,
    attemptDecided: () => undefined,
    streamStarted: () => undefined,
    streamEnded: () => undefined,
  };
  // Only what an attempt's span reads of its context, target and provider.
  const ctx = { tracer, addresses: new ServerAddresses(), propagator: new W3CTraceContextPropagator() } as unknown as TelemetryContext;
  const target = { providerId: 'default/anthropic', model: 'claude' } as TargetConfig;
  const provider = { telemetryName: 'anthropic' } as RuntimeProvider;
  settle(new AttemptRecorder(ctx, owner, target, provider, 'http://127.0.0.1:1', 1, {} as TargetSeries));
  return ended.find((s) => s.kind === SpanKind.CLIENT);
}

describe('an attempt span', () => {
  // Usage.cacheWriteTokens was known (Anthropic, Bedrock) but never on the span.
  it('carries cache reads and cache writes as the GenAI conventions name them', () => {
    const span = attemptSpan((a) =>
      a.settle({ ok: true, kind: 'response', status: 200, body: { choices: [{ index: 0, finish_reason: 'stop' }] }, usage: { inputTokens: 100, outputTokens: 5, cachedInputTokens: 20, cacheWriteTokens: 30 } }),
    );
    expect(span?.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.cache_read.input_tokens': 20,
      'gen_ai.usage.cache_creation.input_tokens': 30,
      'gen_ai.response.finish_reasons': ['stop'],
    });
  });

  it('has no cache creation attribute when the provider reported none', () => {
    const span = attemptSpan((a) => a.settle({ ok: true, kind: 'response', status: 200, body: {}, usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 } }));
    expect(span?.attributes['gen_ai.usage.cache_creation.input_tokens']).toBeUndefined();
  });
});
