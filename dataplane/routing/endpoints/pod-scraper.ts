import { guardedConnector } from '../../config/guarded-connector.js';
import { Agent, request } from '../../config/undici.js';
import type { PodLoad } from '../../providers/types.js';
import { readCapped } from '../../upstream/read-capped.js';
import type { PodSettings, PodState } from './pod-state.js';

/**
 * Largest metrics page read. vLLM's page is tens of kB (about 40 histograms of up to 30 buckets
 * per engine, plus gauges and counters): 1 MiB leaves room for a dozen data-parallel engines and
 * many LoRA series, while a page at the cap costs ~20 ms of parsing at most, not the ~0.8 s a
 * 4 MiB page of long labels cost (4 MiB before).
 */
export const MAX_METRICS_BYTES = 1024 * 1024;
/** Longest wait between two /metrics requests to a pod whose page is over the cap. */
const MAX_METRICS_BACKOFF_MS = 60_000;

/** One probe's answer: the status (0 when none, or a page over the cap) and a page's text. */
interface Fetched {
  status: number;
  text?: string;
  overCap?: true;
}

const NOT_ASKED: Fetched = { status: 0 };

interface Loop {
  stop: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** The Provider states this loop's answers go to (every Provider listing the pod with the same scrape settings), each with its own settings. */
  states: Map<PodState, PodSettings>;
  settings: PodSettings;
  parse: (text: string) => PodLoad;
  /** Pages over the cap in a row: /metrics is then asked for after interval × 2^n (at most a minute), /health still every interval. */
  overCap: number;
  metricsNotBefore: number;
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
      loop = { stop: new AbortController(), timer: undefined, states: new Map(), settings, parse, overCap: 0, metricsNotBefore: 0 };
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

  private async get(url: string, timeoutMs: number, stop: AbortSignal): Promise<Fetched> {
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
    if (Number(res.headers['content-length']) > MAX_METRICS_BYTES) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      return { status: 0, overCap: true };
    }
    const read = await readCapped(res.body, MAX_METRICS_BYTES);
    return read.complete ? { status: 200, text: read.text() } : { status: 0, overCap: true };
  }

  private async scrapeOnce(url: string, loop: Loop, stop: AbortSignal): Promise<void> {
    const { settings, parse } = loop;
    const origin = new URL(url).origin;
    const askMetrics = this.now() >= loop.metricsNotBefore;
    const [health, metrics] = await Promise.allSettled([
      this.get(`${origin}${settings.healthPath}`, settings.scrapeTimeoutMs, stop),
      askMetrics ? this.get(`${origin}${settings.metricsPath}`, settings.scrapeTimeoutMs, stop) : Promise.resolve(NOT_ASKED),
    ]);
    if (stop.aborted) return;
    if (askMetrics) {
      // A page over the cap is read up to the cap on every request: back off that pod's /metrics.
      loop.overCap = metrics.status === 'fulfilled' && metrics.value.overCap === true ? loop.overCap + 1 : 0;
      if (loop.overCap > 0) loop.metricsNotBefore = this.now() + Math.min(MAX_METRICS_BACKOFF_MS, settings.scrapeIntervalMs * 2 ** Math.min(loop.overCap, 16));
    }
    const healthy = health.status === 'fulfilled' && health.value.status === 200;
    const load = metrics.status === 'fulfilled' && metrics.value.text !== undefined ? parse(metrics.value.text) : undefined;
    const now = this.now();
    for (const [state, own] of loop.states) {
      state.observeHealth(healthy);
      if (load !== undefined) state.observeMetrics(load, now, own.staleAfterMs);
    }
  }
}
