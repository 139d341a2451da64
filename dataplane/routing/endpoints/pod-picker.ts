import type { UpstreamFailure } from '../../core/canonical.js';
import type { PodPickingSettings, RuntimeProvider } from '../../providers/registry.js';
import type { EndpointLease, EndpointPicker, PickRequest, PickResult } from './endpoint-picker.js';
import { pickBoundedLoad, HashRing, hash32 } from './prefix-affinity.js';
import { promptPrefix } from './prompt-prefix.js';
import { type PodView, pickLeastOutstanding, pickLoraAffinity, pickQueueAware, triage } from './pod-scoring.js';
import type { PodScraper } from './pod-scraper.js';
import { PodInFlight, PodState } from './pod-state.js';
import { trackedShares } from './tracked-share.js';

/** Most pods tracked (and scraped) per gateway, shared fairly among namespaces and their Providers (tracked-share.ts). */
export const MAX_TRACKED_PODS = 1024;
/** Most untracked pods whose in-flight count and cool-down are kept (beyond a Provider's share, or on an old snapshot). */
export const MAX_UNTRACKED_PODS = 256;
/** Cool-down after a 429/503 without retry-after, or a refused connection. */
const DEFAULT_COOL_DOWN_MS = 1000;
/** Longest cool-down honoured from a retry-after, and longest after failures in a row. */
const MAX_COOL_DOWN_MS = 30_000;
/** Failed answers in a row (5xx, timeouts, connection errors) that cool a pod down: one may be the request's fault. */
const FAILURES_TO_COOL_DOWN = 2;
/** Kinds of failure that say the pod, not the request, is at fault. */
const POD_FAILURES = new Set<UpstreamFailure['kind']>(['ServerError', 'Timeout', 'ConnectionError']);
const DEFAULT_PREFIX_CHARS = 1024;
const DEFAULT_LOAD_BOUND = 1.25;

/** Key of one Provider's view of one pod. */
function stateKey(providerId: string, url: string): string {
  return `${providerId}\n${url}`;
}

/**
 * Load-aware picking among the ready pods of a provider whose pods report their load
 * (RuntimeProvider.podLoad). State is per Provider and pod URL (health, scrape, cool-down: one
 * Provider's settings or failures never take a pod away from another Provider listing it), with
 * the in-flight count shared per URL (the load the pod really has); it survives snapshot swaps, and
 * `sync` starts and stops scraping as pods come and go. The strategy is the route's
 * (RouteConfig.podSelection); saturation limits, scrape settings and the metrics parser are the provider's.
 */
export class PodPicker implements EndpointPicker {
  private readonly pods = new Map<string, PodState>();
  private readonly untracked = new Map<string, PodState>();
  private readonly inFlight = new Map<string, PodInFlight>();
  private readonly rings = new Map<string, HashRing>();
  private turn = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly scraper?: PodScraper,
  ) {}

  /**
   * Tracks exactly the pods of these providers: new pods start being scraped, gone ones stop. Past
   * MAX_TRACKED_PODS each namespace, then each of its providers, gets a fair share of the tracked
   * pods, so that a tenant with a large pool (or many Providers) cannot leave another's untracked.
   */
  sync(providers: readonly RuntimeProvider[]): void {
    const pools = new Map<string, { urls: Set<string>; podLoad: NonNullable<RuntimeProvider['podLoad']> }>();
    for (const p of providers) {
      if (p.podLoad === undefined || pools.has(p.config.id)) continue;
      pools.set(p.config.id, { urls: new Set(p.config.endpoints), podLoad: p.podLoad });
    }
    const shares = trackedShares(new Map([...pools].map(([id, { urls }]) => [id, urls.size])), MAX_TRACKED_PODS);
    const wanted = new Map<string, { providerId: string; url: string; podLoad: NonNullable<RuntimeProvider['podLoad']> }>();
    for (const [providerId, { urls, podLoad }] of pools) {
      for (const url of [...urls].slice(0, shares.get(providerId) ?? 0)) wanted.set(stateKey(providerId, url), { providerId, url, podLoad });
    }
    const listed = (key: string, url: string): boolean => pools.get(key.slice(0, key.indexOf('\n')))?.urls.has(url) === true;
    // Untracked states of pods no snapshot lists any more go; those of listed pods stay (bounded).
    for (const [key, state] of [...this.untracked]) if (!listed(key, state.url)) this.forget(this.untracked, key, state);
    for (const [key, state] of [...this.pods]) {
      if (wanted.has(key)) continue;
      this.scraper?.unwatch(state);
      if (listed(key, state.url)) {
        // Still listed, now past its provider's share: picked by own count, its cool-down kept.
        this.pods.delete(key);
        if (this.untracked.size >= MAX_UNTRACKED_PODS) this.evictUntracked();
        this.untracked.set(key, state);
      } else this.forget(this.pods, key, state);
    }
    for (const [key, { url, podLoad }] of wanted) {
      let state = this.pods.get(key);
      if (state === undefined) {
        // A pod that becomes tracked keeps what was known of it untracked (in flight, cool-down).
        state = this.untracked.get(key) ?? new PodState(url, this.now(), this.sharedInFlight(url));
        this.untracked.delete(key);
        this.pods.set(key, state);
      }
      this.scraper?.watch(state, podLoad.settings, podLoad.parseMetrics);
    }
    this.rings.clear();
  }

  private sharedInFlight(url: string): PodInFlight {
    let shared = this.inFlight.get(url);
    if (shared === undefined) {
      shared = new PodInFlight();
      this.inFlight.set(url, shared);
    }
    return shared;
  }

  private forget(map: Map<string, PodState>, key: string, state: PodState): void {
    map.delete(key);
    state.detach();
    if (state.inFlight.states.size === 0 && this.inFlight.get(state.url) === state.inFlight) this.inFlight.delete(state.url);
  }

  /**
   * The provider's state for a pod. A pod beyond the provider's tracked share, or one no snapshot
   * lists any more (a request on an old snapshot), is not scraped, but keeps its in-flight count
   * and cool-down in a bounded map: it is picked by the gateway's own count, as documented.
   */
  private state(providerId: string, url: string): PodState {
    const key = stateKey(providerId, url);
    const tracked = this.pods.get(key);
    if (tracked !== undefined) return tracked;
    let s = this.untracked.get(key);
    if (s !== undefined) {
      // Most recently used last: eviction takes the oldest.
      this.untracked.delete(key);
      this.untracked.set(key, s);
      return s;
    }
    if (this.untracked.size >= MAX_UNTRACKED_PODS) this.evictUntracked();
    s = new PodState(url, this.now(), this.sharedInFlight(url));
    this.untracked.set(key, s);
    return s;
  }

  /** Drops the least recently used untracked state that holds nothing (no request in flight, no cool-down), else the least recently used. */
  private evictUntracked(): void {
    const now = this.now();
    let victim: [string, PodState] | undefined;
    for (const entry of this.untracked) {
      victim ??= entry;
      if (entry[1].outstanding === 0 && entry[1].coolingFor(now) === 0) {
        victim = entry;
        break;
      }
    }
    if (victim !== undefined) this.forget(this.untracked, victim[0], victim[1]);
  }

  private ring(endpoints: readonly string[]): HashRing {
    const key = endpoints.join('\n');
    let ring = this.rings.get(key);
    if (ring === undefined) {
      if (this.rings.size >= 64) this.rings.clear();
      ring = new HashRing(endpoints);
      this.rings.set(key, ring);
    }
    return ring;
  }

  /** What the picker sees, for tests and debugging. */
  views(provider: RuntimeProvider): PodView[] {
    const cfg = provider.podLoad?.settings;
    if (cfg === undefined) return [];
    const now = this.now();
    return provider.config.endpoints.map((url) => this.state(provider.config.id, url).view(now, cfg));
  }

  pick({ provider: runtime, route, target, req, tried }: PickRequest): PickResult {
    const provider = runtime.config;
    const cfg = runtime.podLoad?.settings;
    if (cfg === undefined || provider.endpoints.length === 0) {
      return { ok: false, saturated: false, failure: { kind: 'ConnectionError', status: 0, message: 'provider has no ready endpoints' } };
    }
    const now = this.now();
    const states = provider.endpoints.map((url) => this.state(provider.id, url));
    const views = states.map((s) => s.view(now, cfg));
    const { candidates, saturated, unavailable } = triage(views, cfg, tried);
    if (candidates.length === 0) return this.refusal(provider, cfg, states, saturated, unavailable, now);

    const selection = route.podSelection;
    const turn = this.turn++;
    let chosen: PodView | undefined;
    switch (selection?.strategy ?? 'QueueAware') {
      case 'LeastOutstanding':
        chosen = pickLeastOutstanding(candidates, turn);
        break;
      case 'QueueAware':
        chosen = pickQueueAware(candidates, turn);
        break;
      case 'LoRAAffinity':
        chosen = pickLoraAffinity(candidates, target.model, turn);
        break;
      case 'PrefixAffinity': {
        const key = hash32(promptPrefix(req.body, target.model, selection?.prefixChars ?? DEFAULT_PREFIX_CHARS));
        chosen = pickBoundedLoad(this.ring(provider.endpoints), key, candidates, selection?.loadBound ?? DEFAULT_LOAD_BOUND);
        break;
      }
    }
    const state = chosen === undefined ? undefined : states.find((s) => s.url === chosen.url);
    if (state === undefined) return this.refusal(provider, cfg, states, saturated, unavailable, now);
    return { ok: true, lease: this.lease(state, cfg) };
  }

  private lease(state: PodState, cfg: PodPickingSettings): EndpointLease {
    const stale = cfg.staleAfterMs;
    state.begin(this.now(), stale);
    const start = state.clock(this.now(), stale);
    let held: number | undefined;
    return {
      url: state.url,
      podSeconds: () => held ?? state.clock(this.now(), stale) - start,
      release: (failure?: UpstreamFailure) => {
        if (held !== undefined) return;
        held = state.clock(this.now(), stale) - start;
        state.end(this.now(), stale);
        if (failure === undefined || !POD_FAILURES.has(failure.kind)) {
          state.answered();
          if (failure === undefined) return;
        }
        // The pod pushed back or is unreachable: keep picks away from it for a moment.
        const pushedBack = failure.status === 429 || failure.status === 503;
        const refused = failure.kind === 'ConnectionError' && failure.status === 0;
        if (pushedBack || refused) {
          const ms = Math.min(MAX_COOL_DOWN_MS, failure.retryAfterMs ?? DEFAULT_COOL_DOWN_MS);
          state.coolDown(this.now() + ms);
        }
        if (!POD_FAILURES.has(failure.kind)) return;
        // A pod that fails fast (a broken engine answering 500 while /health passes) has nothing in
        // flight and so the best score: it would draw most requests. Failures in a row cool it down,
        // 1 s, then twice as long each time up to 30 s, until it answers again.
        const inRow = state.failed();
        if (inRow >= FAILURES_TO_COOL_DOWN) {
          state.coolDown(this.now() + Math.min(MAX_COOL_DOWN_MS, DEFAULT_COOL_DOWN_MS * 2 ** Math.min(inRow - FAILURES_TO_COOL_DOWN, 5)));
        }
      },
    };
  }

  private refusal(provider: RuntimeProvider['config'], cfg: PodPickingSettings, states: PodState[], saturated: number, unavailable: number, now: number): PickResult {
    const cooling = states.map((s) => s.coolingFor(now)).filter((ms) => ms > 0);
    // When the pods will look different: the end of the first cool-down, or two scrapes from now.
    const retryAfterMs = cooling.length > 0 ? Math.min(...cooling) : 2 * cfg.scrapeIntervalMs;
    const n = states.length;
    if (saturated > 0) {
      const message = `all ${n} pods of provider ${provider.id} are saturated or unavailable (${saturated} above queue depth ${cfg.maxQueueDepth} or KV-cache usage ${cfg.maxKvCacheUsage}, ${unavailable} unhealthy or cooling down)`;
      return { ok: false, saturated: true, retryAfterMs, failure: { kind: 'RateLimited', status: 0, message, retryAfterMs } };
    }
    const message = `none of the ${n} pods of provider ${provider.id} is available (${unavailable} failing /health or cooling down after 429/503, connection errors or failures in a row)`;
    return { ok: false, saturated: true, retryAfterMs, failure: { kind: 'ConnectionError', status: 0, message } };
  }
}
