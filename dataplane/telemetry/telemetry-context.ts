import type { TextMapPropagator, Tracer } from '@opentelemetry/api';
import type { AccessLog } from './access-log.js';
import type { RequestUsage } from '../config/request-usage.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { ServerAddresses } from './genai-attributes.js';
import type { SeriesCache } from './target-series.js';

/** What every request's recorder shares: metrics, the tracer (absent when tracing is off), the access log. */
export interface TelemetryContext {
  metrics: GatewayMetrics;
  tracer: Tracer | undefined;
  propagator: TextMapPropagator;
  /** Writes one access-log line (access-log.ts). */
  accessLog: AccessLog;
  addresses: ServerAddresses;
  /** Metric series per served target, resolved once. */
  series: SeriesCache;
  /** Every finished inference request, for usage history (the usage reporter). */
  onRequest?: (usage: RequestUsage, costUsd: number) => void;
}
