import { setTimeout as sleep } from 'node:timers/promises';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import type { RuntimeProvider, RuntimeSnapshot } from '../config/runtime-snapshot.js';
import type { CanonicalRequest, JsonObject, StreamStep, UpstreamFailure, Usage } from '../providers/types.js';
import { AttemptTimeout, runAttempt } from './attempt.js';
import { retryDelayMs } from './backoff.js';
import { noTargetLeft } from './route-errors.js';
import { orderTargets, type Random } from './strategies.js';
import type { TargetStats } from './target-stats.js';

export interface AttemptRecord {
  providerId: string;
  model: string;
  failure?: UpstreamFailure;
}

interface Served {
  target: TargetConfig;
  provider: RuntimeProvider;
  attempts: AttemptRecord[];
  /** Ends the attempt's load accounting; call when the response or stream is finished. */
  release: () => void;
}

export type RouteOutcome =
  | (Served & { kind: 'response'; body: JsonObject; usage?: Usage })
  | (Served & {
      kind: 'stream';
      first: StreamStep[];
      rest: AsyncGenerator<StreamStep, void, undefined>;
      /** Aborts the upstream stream; `reason` says why (e.g. an idle timeout). */
      abort: (reason: Error) => void;
    });

/** The client went away; nothing is to be written. */
export class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

export interface RouterDeps {
  stats: TargetStats;
  random?: Random;
  now?: () => number;
}

/**
 * Endpoint choice inside one provider: round robin over its ready endpoints.
 * (Load-aware picking for vLLM pods is separate work.)
 */
class EndpointCursor {
  private next = new Map<string, number>();
  pick(provider: RuntimeProvider): string | undefined {
    const endpoints = provider.config.endpoints;
    if (provider.config.type === 'mock') return 'mock://in-process';
    if (endpoints.length === 0) return undefined;
    const i = this.next.get(provider.config.id) ?? 0;
    this.next.set(provider.config.id, (i + 1) % endpoints.length);
    return endpoints[i % endpoints.length];
  }
}

export class Router {
  private readonly endpoints = new EndpointCursor();
  private readonly random: Random;
  private readonly now: () => number;

  constructor(private readonly deps: RouterDeps) {
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  /**
   * Tries the route's targets in strategy order, with retries per target and fallback between
   * targets as the route says. Throws a GatewayError when nothing is left, ClientGone when the
   * client disconnected.
   */
  async serve(runtime: RuntimeSnapshot, route: RouteConfig, req: CanonicalRequest, clientSignal: AbortSignal): Promise<RouteOutcome> {
    const attempts: AttemptRecord[] = [];
    const deadline = this.now() + route.timeouts.totalMs;
    let retryAfterMs: number | undefined;

    for (const target of orderTargets(route, this.deps.stats, this.random)) {
      const provider = runtime.providers.get(target.providerId);
      if (provider === undefined) continue;
      let last: UpstreamFailure | undefined;
      for (let attempt = 1; ; attempt++) {
        const remaining = deadline - this.now();
        if (remaining <= 0) {
          attempts.push({ providerId: target.providerId, model: target.model, failure: { kind: 'Timeout', status: 0, message: `route timeout of ${route.timeouts.totalMs} ms exhausted` } });
          throw noTargetLeft(route, attempts, retryAfterMs);
        }
        const record: AttemptRecord = { providerId: target.providerId, model: target.model };
        attempts.push(record);
        const max = provider.config.maxConcurrency;
        const baseUrl = this.endpoints.pick(provider);
        if (max !== undefined && this.deps.stats.providerInflight(provider.config.id) >= max) {
          last = { kind: 'RateLimited', status: 0, message: `provider at its maxConcurrency of ${max}` };
        } else if (baseUrl === undefined) {
          last = { kind: 'ConnectionError', status: 0, message: 'provider has no ready endpoints' };
        } else {
          const timeoutMs = Math.min(remaining, route.timeouts.attemptMs ?? remaining);
          const result = await this.attempt(req, target, provider, baseUrl, timeoutMs, clientSignal, attempts);
          if (result.ok) return result.outcome;
          if ('clientGone' in result) throw new ClientGone();
          last = result.failure;
        }
        record.failure = last;
        if (last.kind === 'RateLimited' && last.retryAfterMs !== undefined) {
          retryAfterMs = retryAfterMs === undefined ? last.retryAfterMs : Math.min(retryAfterMs, last.retryAfterMs);
        }
        if (attempt >= route.retry.attempts || last.kind === 'ClientError' || !route.retry.on.includes(last.kind)) break;
        const delay = retryDelayMs(attempt, route.retry, last.retryAfterMs, this.random);
        if (delay === undefined || this.now() + delay >= deadline) break;
        try {
          await sleep(delay, undefined, { signal: clientSignal });
        } catch {
          throw new ClientGone();
        }
      }
      if (last === undefined || last.kind === 'ClientError' || !route.fallbackOn.includes(last.kind)) break;
    }
    throw noTargetLeft(route, attempts, retryAfterMs);
  }

  private async attempt(
    req: CanonicalRequest,
    target: TargetConfig,
    provider: RuntimeProvider,
    baseUrl: string,
    timeoutMs: number,
    clientSignal: AbortSignal,
    attempts: AttemptRecord[],
  ): Promise<
    | { ok: true; outcome: RouteOutcome }
    | { ok: false; failure: UpstreamFailure }
    | { ok: false; clientGone: true }
  > {
    const controller = new AbortController();
    const onClientAbort = (): void => controller.abort(clientSignal.reason);
    clientSignal.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
    const end = this.deps.stats.start(target);
    const started = this.now();
    const detach = (): void => {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClientAbort);
    };
    const result = await runAttempt(req, target, provider, baseUrl, controller.signal, clientSignal);
    clearTimeout(timer);
    if (!result.ok) {
      detach();
      end();
      return result;
    }
    this.deps.stats.observeLatency(target, this.now() - started);
    const release = (): void => {
      detach();
      end();
    };
    if (result.kind === 'response') {
      release();
      const outcome = { kind: 'response' as const, target, provider, attempts, release: () => undefined, body: result.body };
      return { ok: true, outcome: result.usage === undefined ? outcome : { ...outcome, usage: result.usage } };
    }
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
        abort: (reason: Error) => controller.abort(reason),
      },
    };
  }
}
