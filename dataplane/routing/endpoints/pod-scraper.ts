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
}

/**
 * Scrapes the metrics page and probes the health path of each pod on its provider's interval: one loop per pod,
 * at most one request of each kind in flight per pod, every request bounded by the scrape timeout
 * and the page size by MAX_METRICS_BYTES. Timers are unref'd; stop() and close() end the loops.
 */
export class PodScraper {
  private readonly loops = new Map<string, Loop>();
  // A serviceRef Provider's pods are a tenant's Service's endpoints: as every other connection to
  // something a tenant names, never a cloud metadata or other link-local address (10 s: undici's default connect timeout).
  private readonly agent = new Agent({ connections: 2, keepAliveTimeout: 10_000, pipelining: 0, connect: guardedConnector(10_000) });

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.loops.size;
  }

  has(url: string): boolean {
    return this.loops.has(url);
  }

  /**
   * Starts scraping a pod; `settings` is read each round so that a new snapshot's values apply.
   * `parse` reads the pod's metrics page (the provider's parser, from the registry).
   */
  start(state: PodState, settings: () => PodSettings, parse: (text: string) => PodLoad): void {
    if (this.loops.has(state.url)) return;
    const loop: Loop = { stop: new AbortController(), timer: undefined };
    this.loops.set(state.url, loop);
    const round = async (): Promise<void> => {
      const s = settings();
      await this.scrapeOnce(state, s, parse, loop.stop.signal);
      if (loop.stop.signal.aborted) return;
      loop.timer = setTimeout(() => void round(), s.scrapeIntervalMs);
      loop.timer.unref();
    };
    void round();
  }

  stop(url: string): void {
    const loop = this.loops.get(url);
    if (loop === undefined) return;
    loop.stop.abort();
    clearTimeout(loop.timer);
    this.loops.delete(url);
  }

  async close(): Promise<void> {
    for (const url of [...this.loops.keys()]) this.stop(url);
    await this.agent.close();
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

  async scrapeOnce(state: PodState, settings: PodSettings, parse: (text: string) => PodLoad, stop: AbortSignal): Promise<void> {
    const origin = new URL(state.url).origin;
    const [health, metrics] = await Promise.allSettled([
      this.get(`${origin}${settings.healthPath}`, settings.scrapeTimeoutMs, stop),
      this.get(`${origin}${settings.metricsPath}`, settings.scrapeTimeoutMs, stop),
    ]);
    if (stop.aborted) return;
    state.observeHealth(health.status === 'fulfilled' && health.value.status === 200);
    if (metrics.status === 'fulfilled' && metrics.value.text !== undefined) {
      state.observeMetrics(parse(metrics.value.text), this.now(), settings.staleAfterMs);
    }
  }
}
