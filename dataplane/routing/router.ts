import { setTimeout as sleep } from 'node:timers/promises';
import { type RouteLimits, routeLimits } from '../config/route-limits.js';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { ByteBudget } from '../core/byte-budget.js';
import type { RuntimeProvider, RuntimeRoute, RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { CanonicalRequest, JsonObject, StreamStep, UpstreamFailure, Usage } from '../core/canonical.js';
import { withPodTime } from '../metering/cost.js';
import { AttemptSignal } from '../upstream/attempt-signal.js';
import { AttemptTimeout, runAttempt } from './attempt.js';
import type { ClientLink } from './client-link.js';
import { retryDelayMs } from './backoff.js';
import type { EndpointLease, EndpointPicker, PickRequest, PickResult } from './endpoints/endpoint-picker.js';
import { EndpointPickers } from './endpoints/endpoint-pickers.js';
import { podsSaturated } from './endpoints/pods-saturated.js';
import { type AttemptRecord, attemptHeaders, nativeOnly, noTargetLeft } from './route-errors.js';
import { TargetHealth } from './health/target-health.js';
import { type DecisionRequest, decideRoute, residencyDenied, type RouteDecision } from './rules/route-decision.js';
import { orderTargets, type Random } from './strategies.js';
import type { TargetStats } from './target-stats.js';
import type { AttemptObserver } from '../telemetry/gateway-observer.js';

/** The endpoints a target's first attempt has tried: none (a set is made only for a retry). */
const NOTHING_TRIED: ReadonlySet<string> = new Set();

/**
 * A response's outcome holds nothing: the attempt is released before the outcome is returned. Only
 * a large answer holds something (its bytes of the process's budget, AttemptResult.held), which the
 * serve stage gives back once it has been written.
 */
export const NOTHING_HELD = (): void => undefined;

/** Failures that count against a target's passive health; 429s and client errors do not. */
const UNHEALTHY = new Set<UpstreamFailure['kind']>(['ServerError', 'Timeout', 'ConnectionError']);

interface Served {
  target: TargetConfig;
  provider: RuntimeProvider;
  attempts: AttemptRecord[];
  /** Ends the attempt's load accounting; call when the response or stream is finished. */
  release: () => void;
  /** The upstream's own id of the request that served, when it named one. */
  upstreamRequestId?: string | undefined;
}

export type RouteOutcome =
  | (Served & { kind: 'response'; body: JsonObject; usage?: Usage })
  | (Served & {
      kind: 'stream';
      first: StreamStep[];
      rest: AsyncGenerator<StreamStep, void, undefined>;
      /** Aborts the upstream stream; `reason` says why (e.g. an idle timeout). */
      abort: (reason: Error) => void;
      /** Date.now() when the attempt that serves began (at or before its request was sent): hidden reasoning is bounded from it. */
      sentAt: number;
    });

/** Told of each attempt the upstream may have billed though it served nobody (UpstreamFailure.billed). */
export interface BilledLosses {
  lostAttempt(target: TargetConfig, billed: 'prompt' | 'worstCase', ranMs?: number): void;
}

/** The client went away; nothing is to be written. */
export class ClientGone extends Error {
  /**
   * `reached`: the target an attempt had already sent the request to (the upstream may have worked
   * on it); `sentAt`: Date.now() when that attempt began (a stream's hidden reasoning is bounded from it).
   */
  constructor(
    readonly reached?: TargetConfig,
    readonly sentAt = 0,
  ) {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

export interface RouterDeps {
  stats: TargetStats;
  /** Endpoint choice inside a provider (load-aware for pods that report their load, round robin otherwise). */
  endpoints?: EndpointPicker;
  /** Passive health (outlier detection) per target, shared by every route. */
  health?: TargetHealth;
  random?: Random;
  now?: () => number;
  /** A target passed over without an attempt (counted in tollgate_targets_skipped_total). */
  onSkip?: (route: RouteConfig, target: TargetConfig, reason: 'no_endpoints') => void;
  /** Bytes of large upstream answers read whole that the process holds at once (--max-inflight-response-bytes); none: unbounded. */
  responseBudget?: ByteBudget;
}

/** A provider served in process has its one endpoint; the others ask the picker. */
function pickEndpoint(picker: EndpointPicker, provider: RuntimeProvider, request: PickRequest): PickResult {
  const url = provider.inProcessEndpoint;
  return url === undefined ? picker.pick(request) : { ok: true, lease: { url, release: () => undefined } };
}

/** Whether the provider can serve the request: any can, unless only the client's own API (CanonicalRequest.native) can carry it. */
function servesNatively(provider: RuntimeProvider, req: CanonicalRequest): boolean {
  const native = req.native;
  return native?.requires === undefined || provider.adapter.nativeApis?.includes(native.api) === true;
}

/** A Provider with no endpoint at all (a Service without ready pods): nothing to try, nothing to wait for. */
function hasNoEndpoints(provider: RuntimeProvider): boolean {
  return provider.config.endpoints.length === 0 && provider.inProcessEndpoint === undefined;
}

export class Router {
  private readonly endpoints: EndpointPicker;
  private readonly random: Random;
  private readonly now: () => number;
  readonly health: TargetHealth;

  constructor(private readonly deps: RouterDeps) {
    this.health = deps.health ?? new TargetHealth();
    this.endpoints = deps.endpoints ?? new EndpointPickers();
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  /** The rule and the ordered candidate targets for a request (see rules/route-decision.ts); throws 403/400 GatewayErrors. */
  decide(runtime: RuntimeSnapshot, route: RuntimeRoute, req: DecisionRequest): RouteDecision {
    return decideRoute(route.config, route.rules, req, { providers: runtime.providers, stats: this.deps.stats, health: this.health, random: this.random });
  }

  /**
   * Tries the decision's candidates (without one: the route's targets in strategy order), with
   * retries per target and fallback between targets as the route says. Throws a GatewayError when
   * nothing is left, ClientGone when the client disconnected.
   */
  async serve(
    runtime: RuntimeSnapshot,
    route: RouteConfig,
    req: CanonicalRequest,
    client: ClientLink,
    decision?: RouteDecision,
    observer?: AttemptObserver,
    losses?: BilledLosses,
  ): Promise<RouteOutcome> {
    const attempts: AttemptRecord[] = [];
    const limits = routeLimits(route);
    const deadline = this.now() + route.timeouts.totalMs;
    let retryAfterMs: number | undefined;
    /** Set while the last target tried had no pod able to take the request. */
    let saturation: { message: string; retryAfterMs?: number } | undefined;

    const skipped: string[] = [];
    const unserved: string[] = [];
    for (const target of decision?.candidates ?? orderTargets(route, this.deps.stats, this.random)) {
      const provider = runtime.providers.get(target.providerId);
      if (provider === undefined) continue;
      // A request only its own API can carry (Responses state) skips targets that would translate it.
      if (!servesNatively(provider, req)) {
        unserved.push(target.providerId);
        continue;
      }
      // Retrying with backoff cannot make a pod ready: fail over at once, without an attempt.
      if (hasNoEndpoints(provider)) {
        // Named with its Service: the Provider's status says the same, but the caller may not read it.
        skipped.push(provider.config.service === undefined ? target.providerId : `${target.providerId}: Service ${provider.config.service} has no ready endpoints`);
        this.deps.onSkip?.(route, target, 'no_endpoints');
        continue;
      }
      let last: UpstreamFailure | undefined;
      // Made on the first failed attempt: a request served at once needs no set.
      let tried: Set<string> | undefined;
      for (let attempt = 1; ; attempt++) {
        const remaining = deadline - this.now();
        if (remaining <= 0) {
          attempts.push({ providerId: target.providerId, model: target.model, failure: { kind: 'Timeout', status: 0, message: `route timeout of ${route.timeouts.totalMs} ms exhausted` } });
          throw noTargetLeft(route, attempts, retryAfterMs);
        }
        const record: AttemptRecord = { providerId: target.providerId, model: target.model };
        attempts.push(record);
        const max = provider.config.maxConcurrency;
        saturation = undefined;
        if (max !== undefined && this.deps.stats.providerInflight(provider.config.id) >= max) {
          last = { kind: 'RateLimited', status: 0, message: `provider at its maxConcurrency of ${max}` };
        } else {
          const picked = pickEndpoint(this.endpoints, provider, { provider, route, target, req, tried: tried ?? NOTHING_TRIED });
          if (!picked.ok) {
            last = picked.failure;
            if (picked.saturated) saturation = picked.retryAfterMs === undefined ? { message: last.message } : { message: last.message, retryAfterMs: picked.retryAfterMs };
          } else {
            const timeoutMs = Math.min(remaining, route.timeouts.attemptMs ?? remaining);
            const result = await this.attempt(req, target, provider, picked.lease, timeoutMs, client, attempts, limits, observer);
            if (result.ok) return result.outcome;
            // Only a later attempt on this target asks what was tried.
            (tried ??= new Set()).add(picked.lease.url);
            if ('clientGone' in result) throw new ClientGone(result.sent ? target : undefined, result.sentAt);
            last = result.failure;
            if (last.billed !== undefined) losses?.lostAttempt(target, last.billed, last.ranMs);
            // A non-streaming attempt outlives its client (so its usage is metered); nothing is retried for nobody.
            if (client.aborted) throw new ClientGone();
          }
        }
        record.failure = last;
        // No pod can take it: retrying the same pool now would not help; spill over or give up.
        if (saturation !== undefined) break;
        if ((last.kind === 'RateLimited' || last.kind === 'ServerError') && last.retryAfterMs !== undefined && last.quotaExhausted !== true) {
          retryAfterMs = retryAfterMs === undefined ? last.retryAfterMs : Math.min(retryAfterMs, last.retryAfterMs);
        }
        // A local failure would fail the same way again on this target; so would an account out of
        // quota, and a key or target configuration the upstream refused.
        if (
          attempt >= route.retry.attempts ||
          last.kind === 'ClientError' ||
          last.kind === 'ResponseTooLarge' ||
          last.local === true ||
          last.quotaExhausted === true ||
          last.refused !== undefined ||
          !route.retry.on.includes(last.kind)
        ) {
          break;
        }
        const delay = retryDelayMs(attempt, route.retry, last.retryAfterMs, this.random);
        if (delay === undefined || this.now() + delay >= deadline) break;
        try {
          await sleep(delay, undefined, { signal: client.signal });
        } catch {
          throw new ClientGone();
        }
      }
      // Nothing was sent, and another target's adapter may express the request (api.md): whatever fallbackOn says.
      if (last?.untranslatable === true) continue;
      if (last === undefined || last.kind === 'ClientError' || last.kind === 'ResponseTooLarge' || !route.fallbackOn.includes(last.kind)) break;
    }
    if (attempts.length === 0 && unserved.length > 0) throw nativeOnly(route, req, unserved);
    if (saturation !== undefined) throw podsSaturated(route, saturation.message, saturation.retryAfterMs, attemptHeaders(attempts));
    // The targets that could take the request say why it failed; only when none could, the first that could not.
    const took = attempts.filter((a) => a.failure?.untranslatable !== true);
    const failed = took.length === 0 && attempts.length > 0 ? noTargetLeft(route, attempts.slice(0, 1), undefined) : noTargetLeft(route, took, retryAfterMs, skipped);
    // Residency excluded other targets: say so, rather than a bare upstream error, so that nobody
    // "fixes" it by allowing a non-compliant provider unknowingly. Client errors are relayed as is.
    if (decision !== undefined && decision.excludedBy.length > 0 && failed.status >= 500) {
      const denied = residencyDenied(route, decision.rule, decision.excludedBy, `no allowed target could serve the request (${failed.message})`);
      Object.assign(denied.headers, attemptHeaders(attempts));
      throw denied;
    }
    throw failed;
  }

  private async attempt(
    req: CanonicalRequest,
    target: TargetConfig,
    provider: RuntimeProvider,
    lease: EndpointLease,
    timeoutMs: number,
    client: ClientLink,
    attempts: AttemptRecord[],
    limits: RouteLimits,
    observer: AttemptObserver | undefined,
  ): Promise<
    | { ok: true; outcome: RouteOutcome }
    | { ok: false; failure: UpstreamFailure }
    | { ok: false; clientGone: true; sent: boolean; sentAt: number }
  > {
    const signal = new AttemptSignal();
    // A stream stops with its client (what was streamed is charged). A non-streaming response is
    // read to its end even when the client left, bounded by the attempt timeout, so that the work
    // the upstream did is charged from its usage rather than not at all.
    const onClientAbort = req.stream ? (reason: Error): void => signal.abort(reason) : undefined;
    if (onClientAbort !== undefined) client.onAbort(onClientAbort);
    const timer = setTimeout(() => signal.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
    const end = this.deps.stats.start(target);
    const outlier = provider.config.outlierDetection;
    this.health.begin(target, outlier);
    const started = this.now();
    // On the wall clock whatever `now` is (tests fake it): the meter measures the cut against Date.now.
    const sentAt = req.stream ? Date.now() : 0;
    const result = await runAttempt(req, target, provider, lease.url, signal, client, limits, observer, this.deps.responseBudget);
    clearTimeout(timer);
    if (onClientAbort !== undefined && (!result.ok || result.kind === 'response')) client.offAbort(onClientAbort);
    if (!result.ok) {
      // Only an answer (or silence) from the upstream is a verdict on it; a local failure is not.
      const upstreamFailure = 'failure' in result && result.failure.local !== true ? result.failure : undefined;
      if (upstreamFailure === undefined) this.health.abandon(target);
      else if (UNHEALTHY.has(upstreamFailure.kind)) this.health.failure(target, outlier);
      else this.health.success(target, outlier);
      end();
      lease.release(upstreamFailure);
      if ('clientGone' in result) return { ...result, sentAt };
      // A stream's attempt the upstream had (timed out before its first content, or failed right
      // after opening): it may have reasoned unseen all that time.
      if (req.stream && result.failure.billed === 'prompt') result.failure.ranMs = Date.now() - sentAt;
      return result;
    }
    this.deps.stats.observeLatency(target, this.now() - started);
    this.health.success(target, outlier);
    // Self-hosted pods priced by GPU time: the cost includes the pod time this request held.
    const pricing = withPodTime(target.pricing, lease.podSeconds);
    if (pricing !== target.pricing) target = { ...target, pricing };
    if (result.kind === 'response') {
      // The whole response is in hand: the attempt ends here (no closure to end it later), and the
      // outcome is made once, with usage only when there is some (as before: no `usage` key otherwise).
      end();
      lease.release();
      const body = result.body;
      return {
        ok: true,
        outcome:
          result.usage === undefined
            ? { kind: 'response', target, provider, attempts, release: result.held ?? NOTHING_HELD, body, upstreamRequestId: result.upstreamRequestId }
            : { kind: 'response', target, provider, attempts, release: result.held ?? NOTHING_HELD, body, usage: result.usage, upstreamRequestId: result.upstreamRequestId },
      };
    }
    // Once, however often it is called: the write-back releases a stream when it ends, and the serve
    // stage again as a backstop (it used to wrap this in a copy of the outcome per stream to make sure).
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (onClientAbort !== undefined) client.offAbort(onClientAbort);
      end();
      lease.release();
    };
    return {
      ok: true,
      outcome: {
        kind: 'stream',
        target,
        provider,
        attempts,
        release,
        first: result.first,
        rest: result.rest,
        abort: (reason: Error) => signal.abort(reason),
        upstreamRequestId: result.upstreamRequestId,
        sentAt,
      },
    };
  }
}
