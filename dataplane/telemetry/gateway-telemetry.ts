import type { Tracer } from '@opentelemetry/api';
// The propagator's own file: the package's index loads all of @opentelemetry/core (~0.6 MiB of heap) for one class.
import { W3CTraceContextPropagator } from '@opentelemetry/core/build/src/trace/W3CTraceContextPropagator.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { RequestUsage } from '../config/request-usage.js';
import { accessLog } from './access-log.js';
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.js';
import type { CircuitState, GatewayObserver, PassThroughRequest, RealtimeTelemetry, RequestTelemetry } from './gateway-observer.js';
import { endpointPath } from '../core/endpoint-path.js';
import { OPERATION_BY_PATH, PASS_THROUGH_OPERATION, ServerAddresses } from './genai-attributes.js';
import { RealtimeRecorder } from './realtime-recorder.js';
import { RequestRecorder } from './request-recorder.js';
import { SeriesRetirement } from './series-retirement.js';
import { registerSpanDrops } from './span-drop-metrics.js';
import { SeriesCache } from './target-series.js';
import type { TelemetryContext } from './telemetry-context.js';

export interface GatewayTelemetryOptions {
  logger: Logger;
  store: SnapshotStore;
  /** Traces are recorded only with a tracer (see startTracing); without one, no span work is done. */
  tracer?: Tracer;
  /** Node.js process metrics (process_*, nodejs_*) in the registry; default on. */
  defaultMetrics?: boolean;
  /** How long metric series of objects gone from the configuration are still shown (SeriesRetirement). */
  seriesGraceMs?: number;
  /** Every finished inference request, for usage history. */
  onRequest?: (usage: RequestUsage, costUsd: number) => void;
}

/** The data plane's observer: SERVER and CLIENT spans, Prometheus metrics and the JSON access log. */
export class GatewayTelemetry implements GatewayObserver {
  readonly metrics: GatewayMetrics;
  private readonly ctx: TelemetryContext;

  constructor(opts: GatewayTelemetryOptions) {
    this.metrics = createGatewayMetrics(opts.store, {
      ...(opts.defaultMetrics === false ? { defaultMetrics: false } : {}),
      ...(opts.seriesGraceMs === undefined ? {} : { retirement: new SeriesRetirement(opts.seriesGraceMs) }),
    });
    // With the data plane's own tracer: the spans it dropped, by why.
    if (opts.tracer !== undefined) registerSpanDrops(this.metrics.registry, opts.tracer);
    this.ctx = {
      metrics: this.metrics,
      tracer: opts.tracer,
      // Only W3C trace context crosses the gateway; a caller's baggage is not forwarded to providers.
      propagator: new W3CTraceContextPropagator(),
      accessLog: accessLog(opts.logger),
      addresses: new ServerAddresses(),
      series: new SeriesCache(this.metrics),
      ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
    };
  }

  request(req: IncomingMessage, res: ServerResponse, path: string, passThrough?: PassThroughRequest): RequestTelemetry {
    let recorder: RequestRecorder;
    if (passThrough !== undefined) {
      // Counted by its endpoint family (a fixed set), never by its path: a path names files and batches.
      const { endpoint, route } = passThrough;
      recorder = new RequestRecorder(this.ctx, req, res, path, route, { metric: endpoint, genAi: PASS_THROUGH_OPERATION[endpoint], passThrough: true });
    } else {
      // By the form the server matched the endpoint by: a variant of the path (case, trailing slash) is
      // served, so it is counted, traced and in usage history like the path itself.
      const endpoint = endpointPath(path);
      const operation = req.method === 'POST' ? OPERATION_BY_PATH.get(endpoint) : undefined;
      recorder = new RequestRecorder(this.ctx, req, res, path, endpoint, operation === undefined ? undefined : { metric: operation, genAi: operation, passThrough: false });
    }
    res.on('close', () => recorder.close());
    return recorder;
  }

  realtime(): RealtimeTelemetry {
    return new RealtimeRecorder(this.ctx);
  }

  /** A target the router passed over without trying it. */
  targetSkipped(routeId: string, providerId: string, model: string, reason: 'no_endpoints'): void {
    const shown = this.metrics.targetLabels.of(routeId, { providerId, model });
    this.metrics.targetsSkipped.inc({ route: routeId, provider: shown.provider, upstream_model: shown.upstream_model, reason });
  }

  circuitState(providerId: string, model: string, state: CircuitState): void {
    this.metrics.setCircuit(providerId, model, state);
  }

  /** One scrape of every metric, in the Prometheus text format (served by the admin port). */
  readonly scrape = async (): Promise<{ contentType: string; text: string }> => {
    const { registry, retirement } = this.metrics;
    // Series of objects gone longer than their grace are not shown, even with no snapshot applied since.
    await retirement.sweep();
    return { contentType: registry.contentType, text: await registry.metrics() };
  };
}
