import { context, defaultTextMapSetter, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** Span of one snapshot push to one data-plane pod. */
export interface PushSpan {
  /** Adds W3C traceparent to the push request's headers. */
  inject(headers: Record<string, string>): void;
  /** `status` is the HTTP status, undefined when no response arrived; `outcome` is acked, stale, refused or failed. */
  end(outcome: 'acked' | 'stale' | 'refused' | 'failed', status: number | undefined, podGeneration?: number): void;
}

/** Spans around the operator's reconciles and pushes; a no-op without a tracer. */
export interface OperatorTracing {
  /** Runs one reconcile inside a span; `describe` adds what it published once it finished. */
  reconcile(leader: boolean, run: () => Promise<void>, describe: () => Record<string, string | number | boolean>): Promise<void>;
  push(pod: string, generation: number): PushSpan;
}

const NOOP_PUSH: PushSpan = { inject: () => undefined, end: () => undefined };

export const NOOP_OPERATOR_TRACING: OperatorTracing = {
  reconcile: (_leader, run) => run(),
  push: () => NOOP_PUSH,
};

/**
 * Operator traces: a `tollgate.reconcile` INTERNAL span per reconcile run, and a `tollgate.push`
 * CLIENT span per push to a pod. Pushes are scheduled from inside a reconcile, so (with the SDK's
 * async context manager) a push span is the child of the reconcile that published its snapshot.
 */
export function operatorTracing(tracer: Tracer): OperatorTracing {
  const propagator = new W3CTraceContextPropagator();
  return {
    reconcile: (leader, run, describe) =>
      tracer.startActiveSpan('tollgate.reconcile', { kind: SpanKind.INTERNAL, attributes: { 'tollgate.leader': leader } }, async (span: Span) => {
        try {
          await run();
          span.setAttributes(describe());
        } catch (err) {
          span.setAttribute('error.type', err instanceof Error ? err.name : 'Error');
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          span.end();
        }
      }),
    push(pod, generation) {
      const [address, port] = splitHostPort(pod);
      const span = tracer.startSpan('tollgate.push', {
        kind: SpanKind.CLIENT,
        attributes: {
          'server.address': address,
          ...(port === undefined ? {} : { 'server.port': port }),
          'http.request.method': 'PUT',
          'tollgate.snapshot.generation': generation,
        },
      });
      const ctx = trace.setSpan(context.active(), span);
      return {
        inject: (headers) => propagator.inject(ctx, headers, defaultTextMapSetter),
        end(outcome, status, podGeneration) {
          span.setAttribute('tollgate.push.outcome', outcome);
          if (status !== undefined) span.setAttribute('http.response.status_code', status);
          if (podGeneration !== undefined) span.setAttribute('tollgate.pod.generation', podGeneration);
          if (outcome === 'failed' || outcome === 'refused') {
            span.setAttribute('error.type', status === undefined ? 'push_failed' : String(status));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
  };
}

function splitHostPort(address: string): [string, number | undefined] {
  const i = address.lastIndexOf(':');
  if (i <= 0) return [address, undefined];
  const port = Number(address.slice(i + 1));
  return Number.isInteger(port) ? [address.slice(0, i).replace(/^\[|\]$/g, ''), port] : [address, undefined];
}
