import { guardedConnector } from '../../config/guarded-connector.js';
import { Agent, request } from '../../config/undici.js';
import type { PodLoad } from '../../providers/types.js';
import { readCapped } from '../../upstream/read-capped.js';
import type { PodSettings, PodState } from './pod-state.js';

/** Largest metrics page read; a model server's is tens of kB, histograms included. */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;

interface Loop {
  stop: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** The Provider states this loop's answers go to (every Provider listing the pod with the same scrape settings), each with its own settings. */
  states: Map<PodState, PodSettings>;
  settings: PodSettings;
  parse: (text: string) => PodLoad;
}

/** What decides a probe's answer: states whose settings agree on it share one loop. */
function loopKey(url: string, s: PodSettings): string {
  return JSON.stringify([new URL(url).origin, s.healthPath, s.metricsPath, s.scrapeTimeoutMs, s.scrapeIntervalMs]);
}

/**
 * Scrapes the metrics page and probes the health path of each pod on its provider's interval: one
 * loop per pod origin and scrape settings (Providers listing the same pod with the same settings
 * share it, so a pod's cost grows only with distinct settings, and each Provider's verdict comes
 * from its own settings), at most one request of each kind in flight per loop, every request
 * bounded by the scrape timeout and the page size by MAX_METRICS_BYTES. Timers are unref'd;
 * unwatch() and close() end the loops.
 */
export class PodScraper {
  private readonly loops = new Map<string, Loop>();
  private readonly watching = new Map<PodState, string>();
  // A serviceRef Provider's pods are a tenant's Service's endpoints: as every other connection to
  // something a tenant names, never a cloud metadata or other link-local address (10 s: undici's default connect timeout).
  private readonly agent = new Agent({ connections: 2, keepAliveTimeout: 10_000, pipelining: 0, connect: guardedConnector(10_000) });

  constructor(private readonly now: () => number = Date.now) {}

  /** Scrape loops running. */
  get size(): number {
    return this.loops.size;
  }

  /**
   * Feeds a Provider's pod state from a loop with these settings (started when none runs yet); a
   * state already watched with other settings (a new snapshot changed them) moves to the right loop.
   * `parse` reads the pod's metrics page (the provider's parser, from the registry).
   */
  watch(state: PodState, settings: PodSettings, parse: (text: string) => PodLoad): void {
    const key = loopKey(state.url, settings);
    const current = this.watching.get(state);
    if (current !== undefined && current !== key) this.unwatch(state);
    let loop = this.loops.get(key);
    if (loop === undefined) {
      loop = { stop: new AbortController(), timer: undefined, states: new Map(), settings, parse };
      this.loops.set(key, loop);
      this.run(loop);
    }
    // Same key, so the same probes; staleAfter and the threshold are read by each state itself.
    loop.settings = settings;
    loop.parse = parse;
    loop.states.set(state, settings);
    this.watching.set(state, key);
  }

  unwatch(state: PodState): void {
    const key = this.watching.get(state);
    if (key === undefined) return;
    this.watching.delete(state);
    const loop = this.loops.get(key);
    if (loop === undefined) return;
    loop.states.delete(state);
    if (loop.states.size > 0) return;
    loop.stop.abort();
    clearTimeout(loop.timer);
    this.loops.delete(key);
  }

  async close(): Promise<void> {
    for (const state of [...this.watching.keys()]) this.unwatch(state);
    await this.agent.close();
  }

  private run(loop: Loop): void {
    const round = async (): Promise<void> => {
      const first = loop.states.keys().next().value;
      if (first !== undefined) await this.scrapeOnce(first.url, loop, loop.stop.signal);
      if (loop.stop.signal.aborted) return;
      loop.timer = setTimeout(() => void round(), loop.settings.scrapeIntervalMs);
      loop.timer.unref();
    };
    void round();
  }

  private async get(url: string, timeoutMs: number, stop: AbortSignal): Promise<{ status: number; text?: string }> {
    const res = await request(url, {
      method: 'GET',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
      dispatcher: this.agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      return { status: res.statusCode };
    }
    const read = await readCapped(res.body, MAX_METRICS_BYTES);
    return read.complete ? { status: 200, text: read.text() } : { status: 0 };
  }

  private async scrapeOnce(url: string, loop: Loop, stop: AbortSignal): Promise<void> {
    const { settings, parse } = loop;
    const origin = new URL(url).origin;
    const [health, metrics] = await Promise.allSettled([
      this.get(`${origin}${settings.healthPath}`, settings.scrapeTimeoutMs, stop),
      this.get(`${origin}${settings.metricsPath}`, settings.scrapeTimeoutMs, stop),
    ]);
    if (stop.aborted) return;
    const healthy = health.status === 'fulfilled' && health.value.status === 200;
    const load = metrics.status === 'fulfilled' && metrics.value.text !== undefined ? parse(metrics.value.text) : undefined;
    const now = this.now();
    for (const [state, own] of loop.states) {
      state.observeHealth(healthy);
      if (load !== undefined) state.observeMetrics(load, now, own.staleAfterMs);
    }
  }
}
