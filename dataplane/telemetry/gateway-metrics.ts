import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SummedCounter } from './summed-counter.js';
import { SummedHistogram } from './summed-histogram.js';
import type { Snapshot } from '../config/snapshot.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { CircuitState } from './gateway-observer.js';
import { retirablePromMetric, SeriesRetirement } from './series-retirement.js';
import { MAX_TARGET_LABEL_SETS, OTHER_TARGET, TargetLabels } from './target-labels.js';

export { NONE } from './series-retirement.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// Past 300 s: a committed stream outlives timeouts.total (only streamIdle bounds it); an attempt does not.
const REQUEST_BUCKETS = [...LATENCY_BUCKETS, 600, 1800];
// Past 30 s: reasoning models think longer, and TTFT includes failed attempts and backoff.
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120, 300];
const TPOT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1];

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, open: 1, half_open: 2 };

/** The data plane's Prometheus metrics, in their own registry (one per Dataplane). See docs/observability.md. */
export function createGatewayMetrics(store: SnapshotStore, opts: { defaultMetrics?: boolean; retirement?: SeriesRetirement } = {}) {
  const registry = new Registry();
  const retirement = opts.retirement ?? new SeriesRetirement();
  const registers = [registry];
  const target = ['route', 'provider', 'upstream_model'] as const;
  const circuits = new Map<string, CircuitState>();
  const targetLabels = new TargetLabels();

  const metrics = {
    registry,
    /** Drops the series of objects gone from the configuration; other metrics of this registry (capture's) are tracked by it too. */
    retirement,
    /** The provider and upstream_model label values of each route's targets (bounded, folded past a cap), per applied snapshot. */
    targetLabels,
    requests: new SummedCounter({
      name: 'tollgate_requests_total',
      help: 'Inference requests by route, public model, serving provider and upstream model, and HTTP status class.',
      labelNames: ['operation', 'route', 'model', 'provider', 'upstream_model', 'status_class'] as const,
      registers,
    }),
    requestDuration: new SummedHistogram({
      name: 'tollgate_request_duration_seconds',
      help: 'Time from receiving an inference request to the end of its response (stream end for streams).',
      labelNames: ['route', 'model', 'provider', 'status_class'] as const,
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    inflight: new Gauge({ name: 'tollgate_inflight_requests', help: 'Inference requests being served.', registers }),
    realtimeConnections: new Gauge({
      name: 'tollgate_realtime_connections',
      help: 'Open Realtime WebSocket connections (GET /v1/realtime) by route.',
      labelNames: ['route'] as const,
      registers,
    }),
    attempts: new SummedCounter({
      name: 'tollgate_upstream_attempts_total',
      help: 'Upstream attempts by target and outcome (success, a failure kind, or client_gone).',
      labelNames: [...target, 'outcome'] as const,
      registers,
    }),
    upstreamDuration: new SummedHistogram({
      name: 'tollgate_upstream_duration_seconds',
      help: 'Time of one upstream attempt until it was decided: full response, first stream event, or failure.',
      labelNames: [...target, 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    ttft: new SummedHistogram({
      name: 'tollgate_time_to_first_token_seconds',
      help: 'Streams: time from receiving the request to the first content chunk (failed attempts included).',
      labelNames: target,
      buckets: TTFT_BUCKETS,
      registers,
    }),
    tpot: new SummedHistogram({
      name: 'tollgate_time_per_output_token_seconds',
      help: 'Streams: (stream end - first chunk) / (output tokens - 1).',
      labelNames: target,
      buckets: TPOT_BUCKETS,
      registers,
    }),
    streamErrors: new SummedCounter({
      name: 'tollgate_stream_errors_total',
      help: 'Streams that failed after the first chunk (the client got an SSE error event).',
      labelNames: [...target, 'kind'] as const,
      registers,
    }),
    tokens: new SummedCounter({
      name: 'tollgate_tokens_total',
      help: 'Metered tokens by type: input (all input, cached included), output, cached_input (subset of input).',
      labelNames: ['route', 'model', 'provider', 'upstream_model', 'type'] as const,
      registers,
    }),
    cost: new SummedCounter({
      name: 'tollgate_cost_usd_total',
      help: "Metered cost in USD at the serving target's prices.",
      labelNames: ['route', 'model', 'provider', 'upstream_model'] as const,
      registers,
    }),
    estimated: new SummedCounter({
      name: 'tollgate_usage_estimated_total',
      help: 'Requests metered from an estimate; reason: missing (no usage reported), invalid (usage that cannot be true), client_gone (client left after the upstream was sent the request), truncated (stream ended early), background (a Responses request run in the background: its worst case), lost_attempt (an attempt that timed out after sending, whose answer was too large or broke off, charged besides what served), shutdown (a request whose upstream had not answered when its pod stopped: its worst case), batch_worst_case (a batch created through POST /v1/batches: the worst case of its input file\'s requests at the batch price), fine_tuning_worst_case (a fine-tuning job created: its files\' token bound times its epochs at the training price), eval_worst_case (an eval run whose data source runs a model: its items\' prompt estimates and output caps), cut_short (a Realtime response a close cut before its response.done: its worst case), transcription_unreported (a Realtime input transcription that failed or that the session ended before it was reported: its bound), cut_reasoning_bound (a stream of a model that reasons unseen cut before its usage: what it showed plus a bound on its hidden reasoning).',
      labelNames: [...target, 'reason'] as const,
      registers,
    }),
    retries: new SummedCounter({
      name: 'tollgate_retries_total',
      help: 'Upstream attempts that retried the same target.',
      labelNames: target,
      registers,
    }),
    failovers: new SummedCounter({
      name: 'tollgate_failovers_total',
      help: 'Moves to the next target; provider and upstream_model name the target failed over from.',
      labelNames: target,
      registers,
    }),
    targetsSkipped: new Counter({
      name: 'tollgate_targets_skipped_total',
      help: 'Targets passed over without an attempt, by reason (no_endpoints: the Provider has no ready endpoints).',
      labelNames: [...target, 'reason'] as const,
      registers,
    }),
    rateLimitRejections: new Counter({
      name: 'tollgate_rate_limit_rejections_total',
      help: 'Requests refused by a rate limit, by route and limit kind.',
      labelNames: ['route', 'limit'] as const,
      registers,
    }),
    budgetRejections: new Counter({
      name: 'tollgate_budget_rejections_total',
      help: 'Requests refused or downgraded by an exhausted Budget.',
      labelNames: ['route', 'budget', 'action'] as const,
      registers,
    }),
    guardrailDecisions: new Counter({
      name: 'tollgate_guardrail_decisions_total',
      help: 'Guardrail rule decisions: what a rule did (Block, Mask, Monitor; Allow when a check failed open), by policy, rule and phase.',
      labelNames: ['policy', 'rule', 'phase', 'action'] as const,
      registers,
    }),
    guardrailUnscanned: new Counter({
      name: 'tollgate_guardrail_unscanned_total',
      help: 'Guardrail rule decisions that left text unscanned (a size cap or the request\'s scan budget ran out; the rest counts as an Unscanned finding), by policy, rule and phase.',
      labelNames: ['policy', 'rule', 'phase'] as const,
      registers,
    }),
    cacheLookups: new SummedCounter({
      name: 'tollgate_cache_lookups_total',
      help: 'Response-cache lookups by route and result (hit, miss).',
      labelNames: ['route', 'result'] as const,
      registers,
    }),
    setCircuit(providerId: string, model: string, state: CircuitState): void {
      circuits.set(`${providerId}\u0000${model}`, state);
    },
  };

  new Gauge({
    name: 'tollgate_circuit_breaker_state',
    help: 'Circuit-breaker state per configured target: 0 closed, 1 open, 2 half-open.',
    labelNames: ['provider', 'upstream_model'] as const,
    registers,
    collect() {
      this.reset();
      const snapshot = store.current?.snapshot;
      if (snapshot === undefined) return;
      // Targets folded into `_other` (target-labels.ts) show the worst state among them.
      let other = -1;
      for (const route of snapshot.routes) {
        for (const t of route.targets) {
          const shown = targetLabels.of(route.id, t);
          const value = CIRCUIT_VALUE[circuits.get(`${t.providerId}\u0000${t.model}`) ?? 'closed'];
          if (shown.provider === OTHER_TARGET) other = Math.max(other, value);
          else this.set(shown, value);
        }
      }
      if (other >= 0) this.set({ provider: OTHER_TARGET, upstream_model: OTHER_TARGET }, other);
    },
  });
  new Gauge({
    name: 'tollgate_metric_targets_folded',
    help: `Distinct targets (provider and upstream model) of a route past the first ${MAX_TARGET_LABEL_SETS} whose metrics are shown as provider and upstream_model "_other".`,
    labelNames: ['route'] as const,
    registers,
    collect() {
      this.reset();
      for (const [route, folded] of targetLabels.folded()) this.set({ route }, folded);
    },
  });
  new Gauge({
    name: 'tollgate_snapshot_info',
    help: 'The served snapshot: 1 with its content-hash version as a label.',
    labelNames: ['version'] as const,
    registers,
    collect() {
      this.reset();
      const version = store.current?.snapshot.version;
      if (version !== undefined) this.set({ version }, 1);
    },
  });
  new Gauge({
    name: 'tollgate_snapshot_generation',
    help: 'Generation of the served snapshot (-1 before the first pushed one; dev mode does not count generations).',
    registers,
    collect() {
      this.set(store.generation);
    },
  });
  new Gauge({
    name: 'tollgate_snapshot_routes',
    help: 'Routes in the served snapshot.',
    registers,
    collect() {
      this.set(store.current?.snapshot.routes.length ?? 0);
    },
  });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const m = metrics;
  retirement.track(
    m.requests,
    m.requestDuration,
    m.attempts,
    m.upstreamDuration,
    m.ttft,
    m.tpot,
    m.streamErrors,
    m.tokens,
    m.cost,
    m.estimated,
    m.retries,
    m.failovers,
    m.cacheLookups,
    retirablePromMetric(m.targetsSkipped),
    retirablePromMetric(m.realtimeConnections),
    retirablePromMetric(m.rateLimitRejections),
    retirablePromMetric(m.budgetRejections),
    retirablePromMetric(m.guardrailDecisions),
    retirablePromMetric(m.guardrailUnscanned),
    // The circuit gauge shows configured targets only; the states it reads are dropped with them.
    {
      retire(keep) {
        for (const key of circuits.keys()) {
          const [provider, model] = key.split('\u0000');
          if (!keep({ provider, upstream_model: model })) circuits.delete(key);
        }
      },
    },
  );
  const applied = (snapshot: Snapshot): void => {
    targetLabels.apply(snapshot);
    void retirement.apply(snapshot);
  };
  store.onChange((runtime) => applied(runtime.snapshot));
  if (store.current !== undefined) applied(store.current.snapshot);
  return metrics;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** `1xx` is a Realtime connection (101 Switching Protocols); HTTP requests end with 2xx to 5xx. */
export function statusClass(status: number): string {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'other';
}
