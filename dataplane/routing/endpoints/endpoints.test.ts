import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import type { ProviderConfig, RouteConfig, TargetConfig } from '../../config/snapshot.js';
import { runtimeProvider } from '../../providers/registry.js';
import type { Transport } from '../../upstream/transport.js';
import { costUsd, withPodTime } from '../../metering/cost.js';
import type { CanonicalRequest } from '../../core/canonical.js';
import { RoundRobinPicker } from './endpoint-picker.js';
import { MAX_TRACKED_PODS, PodPicker } from './pod-picker.js';
import { MAX_METRICS_BYTES, PodScraper } from './pod-scraper.js';
import { isSaturated, loraTier, pickLoraAffinity, pickQueueAware, type PodView, triage } from './pod-scoring.js';
import { HashRing, hash32, pickBoundedLoad } from './prefix-affinity.js';
import { promptPrefix } from './prompt-prefix.js';
import { PodState, type PodSettings } from './pod-state.js';
import { fairShares, trackedShares } from './tracked-share.js';
import type { PodLoad } from '../../providers/types.js';

const limits = { maxQueueDepth: 8, maxKvCacheUsage: 0.9 };
const pod = (url: string, extra: Partial<PodView> = {}): PodView => ({ url, outstanding: 0, available: true, ...extra });

describe('pod scoring', () => {
  it('filters unavailable and saturated pods and prefers untried ones', () => {
    const pods = [pod('a', { available: false }), pod('b', { metrics: { waiting: 9 } }), pod('c', { metrics: { kvCacheUsage: 0.9 } }), pod('d'), pod('e')];
    expect(isSaturated(pods[1] as PodView, limits)).toBe(true);
    const t = triage(pods, limits, new Set(['d']));
    expect(t).toMatchObject({ saturated: 2, unavailable: 1 });
    expect(t.candidates.map((p) => p.url)).toEqual(['e']);
    expect(triage(pods, limits, new Set(['d', 'e'])).candidates.map((p) => p.url)).toEqual(['d', 'e']);
  });

  it('scores queue + own in-flight, KV usage breaking ties, and rotates among equals', () => {
    const pods = [pod('a', { metrics: { waiting: 3 } }), pod('b', { outstanding: 2, metrics: { kvCacheUsage: 0.5 } }), pod('c', { outstanding: 2, metrics: { kvCacheUsage: 0.2 } })];
    expect(pickQueueAware(pods, 0)?.url).toBe('c');
    const even = [pod('a'), pod('b')];
    expect([0, 1, 2, 3].map((t) => pickQueueAware(even, t)?.url)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('ranks LoRA tiers: running, waiting, free slot or unknown, full', () => {
    const running = pod('r', { metrics: { lora: { running: ['s'], waiting: [], maxLora: 1 } } });
    const waiting = pod('w', { metrics: { lora: { running: ['t'], waiting: ['s'], maxLora: 1 } } });
    const free = pod('f', { metrics: { lora: { running: ['t'], waiting: [], maxLora: 2 } } });
    const full = pod('x', { metrics: { lora: { running: ['t'], waiting: [], maxLora: 1 } } });
    expect([running, waiting, free, pod('u'), full].map((p) => loraTier(p, 's'))).toEqual([0, 1, 2, 2, 3]);
    expect(pickLoraAffinity([full, free, { ...running, outstanding: 5 }], 's', 0)?.url).toBe('r');
    expect(pickLoraAffinity([full, free], 's', 0)?.url).toBe('f');
  });
});

describe('prefix affinity', () => {
  const urls = ['http://10.0.0.1:8000/v1', 'http://10.0.0.2:8000/v1', 'http://10.0.0.3:8000/v1', 'http://10.0.0.4:8000/v1'];

  it('maps a key to the same pod and moves few keys when a pod leaves', () => {
    const ring = new HashRing(urls);
    const smaller = new HashRing(urls.slice(0, 3));
    let moved = 0;
    const used = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const key = hash32(`prompt ${i}`);
      const a = ring.walk(key)[0];
      used.add(a ?? '');
      expect(ring.walk(key)[0]).toBe(a);
      expect(ring.walk(key)).toHaveLength(4);
      if (a !== urls[3] && smaller.walk(key)[0] !== a) moved++;
    }
    expect(used.size).toBe(4);
    expect(moved).toBe(0);
  });

  it('bounds the load of the home pod to loadBound × the average', () => {
    const ring = new HashRing(urls);
    const key = hash32('system prompt');
    const home = ring.walk(key)[0] ?? '';
    const views = urls.map((u) => pod(u));
    const picks: string[] = [];
    for (let i = 0; i < 12; i++) {
      const p = pickBoundedLoad(ring, key, views, 1.25);
      if (p === undefined) throw new Error('no pick');
      p.outstanding++;
      picks.push(p.url);
    }
    const onHome = picks.filter((u) => u === home).length;
    expect(onHome).toBeLessThanOrEqual(Math.ceil((1.25 * 12) / 4));
    expect(onHome).toBeGreaterThanOrEqual(3);
    expect(picks[0]).toBe(home);
  });

  it('keys on the leading system messages and the model', () => {
    const body = (user: string) => ({ messages: [{ role: 'system', content: 'S' }, { role: 'developer', content: [{ type: 'text', text: 'D' }] }, { role: 'user', content: user }] });
    expect(promptPrefix(body('a'), 'm', 100)).toBe(promptPrefix(body('b'), 'm', 100));
    expect(promptPrefix(body('a'), 'm', 100)).not.toBe(promptPrefix(body('a'), 'n', 100));
    expect(promptPrefix({ messages: [{ role: 'user', content: 'hello world' }] }, 'm', 5)).toBe('m\u0000hello');
    expect(promptPrefix({ prompt: 'abcdef' }, 'm', 3)).toBe('m\u0000abc');
  });
});

describe('pod state', () => {
  it('charges each request its share of the pod while requests overlap', () => {
    const s = new PodState('u', 0);
    const stale = 1000;
    s.begin(0, stale);
    const a0 = s.clock(0, stale);
    s.begin(1000, stale); // second request joins after 1 s alone
    const b0 = s.clock(1000, stale);
    s.end(3000, stale); // both shared 2 s
    const a = s.clock(3000, stale) - a0;
    const b = s.clock(3000, stale) - b0;
    expect(a).toBeCloseTo(2, 9);
    expect(b).toBeCloseTo(1, 9);
  });

  it('divides by the running batch the pod reports while it is fresh', () => {
    const s = new PodState('u', 0);
    s.observeMetrics({ running: 4 }, 0, 1000);
    s.begin(0, 1000);
    const start = s.clock(0, 1000);
    expect(s.clock(1000, 1000) - start).toBeCloseTo(0.25, 9);
    // Beyond staleAfter the report no longer counts.
    expect(s.clock(3000, 1000) - start).toBeCloseTo(0.25 + 2, 9);
  });

  it('ages metrics out and cools down', () => {
    const s = new PodState('u', 0);
    s.observeMetrics({ waiting: 50 }, 0, 500);
    expect(s.view(500, { staleAfterMs: 500, unhealthyThreshold: 1 }).metrics).toEqual({ waiting: 50 });
    expect(s.view(501, { staleAfterMs: 500, unhealthyThreshold: 1 }).metrics).toBeUndefined();
    s.coolDown(2000);
    expect(s.view(1999, { staleAfterMs: 500, unhealthyThreshold: 1 }).available).toBe(false);
    expect(s.view(2000, { staleAfterMs: 500, unhealthyThreshold: 1 }).available).toBe(true);
    s.observeHealth(false);
    expect(s.view(2000, { staleAfterMs: 500, unhealthyThreshold: 2 }).available).toBe(true);
    s.observeHealth(false);
    expect(s.view(2000, { staleAfterMs: 500, unhealthyThreshold: 2 }).available).toBe(false);
  });
});

describe('pod picker', () => {
  const vllm = { scrapeIntervalMs: 1000, scrapeTimeoutMs: 500, staleAfterMs: 5000, metricsPath: '/metrics', healthPath: '/health', unhealthyThreshold: 2, maxQueueDepth: 8, maxKvCacheUsage: 0.9 };
  const noHttp: Transport = { send: () => Promise.reject(new Error('picking sends nothing')) };
  const provider = runtimeProvider({ id: 'ns/llama', type: 'vllm', endpoints: ['http://a/v1', 'http://b/v1'], headers: {}, connectTimeoutMs: 1000, vllm }, noHttp);
  const target: TargetConfig = { providerId: 'ns/llama', model: 'm', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, podSecondUsd: 2 } };
  const route = { id: 'ns/r', model: 'r', podSelection: { strategy: 'QueueAware', prefixChars: 100, loadBound: 1.25 } } as unknown as RouteConfig;
  const req: CanonicalRequest = { op: 'chat', body: { messages: [] }, stream: false, clientWantsUsage: false };

  it('spreads by own in-flight count, refuses when every pod cools down, and meters pod time', () => {
    let now = 0;
    const picker = new PodPicker(() => now);
    picker.sync([provider]);
    const first = picker.pick({ provider, route, target, req, tried: new Set() });
    const second = picker.pick({ provider, route, target, req, tried: new Set() });
    if (!first.ok || !second.ok) throw new Error('expected picks');
    expect(new Set([first.lease.url, second.lease.url]).size).toBe(2);
    now = 1500;
    first.lease.release({ kind: 'RateLimited', status: 429, message: 'busy', retryAfterMs: 3000 });
    second.lease.release({ kind: 'ServerError', status: 503, message: 'overloaded' });
    expect(costUsd({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 }, withPodTime(target.pricing, first.lease.podSeconds))).toBeCloseTo(3, 8);
    const refused = picker.pick({ provider, route, target, req, tried: new Set() });
    expect(refused).toMatchObject({ ok: false, saturated: true, retryAfterMs: 1000 });
    now = 2500;
    expect(picker.pick({ provider, route, target, req, tried: new Set() })).toMatchObject({ ok: true, lease: { url: 'http://b/v1' } });
  });

  it('cools a pod down after failures in a row, longer each time, until it answers again', () => {
    let now = 0;
    const picker = new PodPicker(() => now);
    const lo = { ...route, podSelection: { strategy: 'LeastOutstanding' } } as unknown as RouteConfig;
    picker.sync([provider]);
    const failOn = (url: string, status = 500): void => {
      const r = picker.pick({ provider, route: lo, target, req, tried: new Set(['http://a/v1', 'http://b/v1'].filter((u) => u !== url)) });
      if (!r.ok || r.lease.url !== url) throw new Error(`expected a pick of ${url}`);
      r.lease.release(status === 0 ? { kind: 'Timeout', status: 0, message: 'timed out' } : { kind: 'ServerError', status, message: 'boom' });
    };
    const available = (): boolean[] => picker.views(provider).map((v) => v.available);
    failOn('http://a/v1');
    expect(available()).toEqual([true, true]); // one failure may be the request's
    failOn('http://a/v1', 0);
    expect(available()).toEqual([false, true]);
    now = 999;
    expect(available()).toEqual([false, true]);
    now = 1000;
    failOn('http://a/v1');
    now = 2999;
    expect(available()).toEqual([false, true]); // 2 s the second time
    now = 3000;
    const good = picker.pick({ provider, route: lo, target, req, tried: new Set(['http://b/v1']) });
    if (!good.ok) throw new Error('expected a pick');
    good.lease.release();
    failOn('http://a/v1');
    expect(available()).toEqual([true, true]); // an answer ended the run
  });

  it("scrapes a pod once per distinct scrape settings, and judges it for each Provider by that Provider's own", async () => {
    const hits = new Map<string, number>();
    const server = createServer((req, res) => {
      hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
      res.writeHead(req.url === '/health' ? 200 : req.url === '/metrics' ? 200 : 404).end(req.url === '/metrics' ? 'vllm:num_requests_waiting 0\n' : '');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const fast = { ...vllm, scrapeIntervalMs: 20, unhealthyThreshold: 1 };
    const owner = runtimeProvider({ id: 'team-a/llama', type: 'vllm', endpoints: [url], headers: {}, connectTimeoutMs: 1000, vllm: fast }, noHttp);
    const sameSettings = runtimeProvider({ id: 'team-b/llama', type: 'vllm', endpoints: [url], headers: {}, connectTimeoutMs: 1000, vllm: fast }, noHttp);
    const badPath = runtimeProvider({ id: 'aaa/other', type: 'vllm', endpoints: [url], headers: {}, connectTimeoutMs: 1000, vllm: { ...fast, healthPath: '/nope' } }, noHttp);
    const scraper = new PodScraper();
    const picker = new PodPicker(Date.now, scraper);
    try {
      picker.sync([badPath, owner, sameSettings]);
      expect(scraper.size).toBe(2);
      await vi.waitFor(() => expect((hits.get('/nope') ?? 0) >= 2 && (hits.get('/health') ?? 0) >= 2).toBe(true), { timeout: 5000, interval: 10 });
      expect(picker.views(badPath).map((v) => v.available)).toEqual([false]);
      expect(picker.views(owner).map((v) => v.available)).toEqual([true]);
      expect(picker.views(sameSettings).map((v) => v.available)).toEqual([true]);
      expect(picker.pick({ provider: owner, route, target, req, tried: new Set() }).ok).toBe(true);
      // The in-flight count is the pod's real load, whichever Provider sent the request.
      expect(picker.views(badPath)[0]?.outstanding).toBe(1);
      picker.sync([owner]);
      expect(scraper.size).toBe(1);
    } finally {
      await scraper.close();
      server.close();
    }
  });

  it('backs off /metrics of a pod whose page is over the cap, still probing /health every interval', async () => {
    const hits = { health: 0, metrics: 0 };
    const line = `vllm:num_requests_waiting{model_name="${'m'.repeat(200)}"} 1\n`;
    const page = line.repeat(Math.ceil((MAX_METRICS_BYTES + 1) / line.length));
    const server = createServer((req, res) => {
      if (req.url === '/health') hits.health++;
      else hits.metrics++;
      // Streamed without a length: read up to the cap like a page that grew.
      if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain' }).end(page);
      else res.writeHead(200).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const p = runtimeProvider({ id: 'ml/big', type: 'vllm', endpoints: [url], headers: {}, connectTimeoutMs: 1000, vllm: { ...vllm, scrapeIntervalMs: 20, scrapeTimeoutMs: 2000 } }, noHttp);
    const scraper = new PodScraper();
    const picker = new PodPicker(Date.now, scraper);
    try {
      picker.sync([p]);
      await vi.waitFor(() => expect(hits.health).toBeGreaterThanOrEqual(24), { timeout: 20_000, interval: 10 });
      // Without the back-off every round asks for both; with it, /metrics after 40, 80, 160, 320... ms.
      expect(hits.metrics).toBeGreaterThanOrEqual(1);
      expect(hits.metrics).toBeLessThanOrEqual(12);
      expect(picker.views(p)[0]).toMatchObject({ available: true });
      expect(picker.views(p)[0]?.metrics).toBeUndefined();
    } finally {
      await scraper.close();
      server.closeAllConnections();
      server.close();
    }
  });

  /** Records which pods are scraped, without scraping. */
  class WatchList extends PodScraper {
    readonly watched = new Set<PodState>();
    override watch(state: PodState, _settings: PodSettings, _parse: (text: string) => PodLoad): void {
      this.watched.add(state);
    }
    override unwatch(state: PodState): void {
      this.watched.delete(state);
    }
  }

  it("tracks a fair share of pods per namespace, so another tenant's large pool leaves ours tracked", async () => {
    // Before, one limit for all Providers was filled in snapshot order: namespace aaa's 1024 pods
    // took it all, and every pick of team-a's pods got a fresh state (in flight 0, cool-downs lost, never scraped).
    const pool = (id: string, n: number, base: string): ReturnType<typeof runtimeProvider> =>
      runtimeProvider({ id, type: 'vllm', endpoints: Array.from({ length: n }, (_, i) => `http://${base}.${i >> 8}.${i & 255}:8000/v1`), headers: {}, connectTimeoutMs: 1000, vllm }, noHttp);
    const big = pool('aaa/big', MAX_TRACKED_PODS, '10.1');
    const alsoBig = pool('aaa/big2', MAX_TRACKED_PODS, '10.2');
    const mine = runtimeProvider({ id: 'team-a/llama', type: 'vllm', endpoints: ['http://10.0.0.1:8000/v1', 'http://10.0.0.2:8000/v1'], headers: {}, connectTimeoutMs: 1000, vllm }, noHttp);
    const watch = new WatchList();
    const picker = new PodPicker(() => 0, watch);
    try {
      picker.sync([big, alsoBig, mine]);
      expect(watch.watched.size).toBe(MAX_TRACKED_PODS);
      expect([...watch.watched].filter((s) => s.url.startsWith('http://10.0.0.')).length).toBe(2);
      const lo = { ...route, podSelection: { strategy: 'LeastOutstanding' } } as unknown as RouteConfig;
      const leases = [0, 1, 2, 3].map(() => picker.pick({ provider: mine, route: lo, target, req, tried: new Set() }));
      expect(picker.views(mine).map((v) => v.outstanding)).toEqual([2, 2]);
      const first = leases[0];
      if (first === undefined || !first.ok) throw new Error('expected a pick');
      first.lease.release({ kind: 'ServerError', status: 503, message: 'full', retryAfterMs: 30_000 });
      const after = [0, 1, 2].map(() => {
        const r = picker.pick({ provider: mine, route: lo, target, req, tried: new Set() });
        return r.ok ? r.lease.url : 'refused';
      });
      expect(new Set(after).size).toBe(1);
      expect(after[0]).not.toBe(first.lease.url);
    } finally {
      await watch.close();
    }
  });

  it("keeps in-flight counts and cool-downs of pods past a provider's share (picked by own count only)", async () => {
    const n = MAX_TRACKED_PODS + 2;
    const big = runtimeProvider({ id: 'ml/big', type: 'vllm', endpoints: Array.from({ length: n }, (_, i) => `http://10.1.${i >> 8}.${i & 255}:8000/v1`), headers: {}, connectTimeoutMs: 1000, vllm }, noHttp);
    const watch = new WatchList();
    const picker = new PodPicker(() => 0, watch);
    try {
      picker.sync([big]);
      expect(watch.watched.size).toBe(MAX_TRACKED_PODS);
      const lo = { ...route, podSelection: { strategy: 'LeastOutstanding' } } as unknown as RouteConfig;
      for (let i = 0; i < n; i++) picker.pick({ provider: big, route: lo, target, req, tried: new Set() });
      expect(picker.views(big).map((v) => v.outstanding)).toEqual(Array.from({ length: n }, () => 1));
    } finally {
      await watch.close();
    }
  });

  it('splits the tracked budget max-min fairly, among namespaces first', () => {
    expect(fairShares(new Map([['a', 10], ['b', 1000], ['c', 1000]]), 1024)).toEqual(new Map([['a', 10], ['b', 507], ['c', 507]]));
    const shares = trackedShares(new Map([['aaa/x', 1000], ['aaa/y', 1000], ['aaa/z', 1000], ['team-a/llama', 3], ['team-b/p', 2000]]), 1024);
    expect(shares.get('team-a/llama')).toBe(3);
    expect(shares.get('team-b/p')).toBe(510);
    expect([shares.get('aaa/x'), shares.get('aaa/y'), shares.get('aaa/z')]).toEqual([170, 170, 171]);
  });

  it('round robin stays the default for other providers', () => {
    const rr = new RoundRobinPicker();
    const config: ProviderConfig = { id: 'ns/p', type: 'openai-compatible', endpoints: ['x', 'y'], headers: {}, connectTimeoutMs: 1000 };
    const plain = runtimeProvider(config, noHttp);
    expect(plain.podLoad).toBeUndefined();
    const urls = [0, 1, 2].map(() => {
      const r = rr.pick({ provider: plain, route, target, req, tried: new Set() });
      return r.ok ? r.lease.url : '';
    });
    expect(urls).toEqual(['x', 'y', 'x']);
    expect(rr.pick({ provider: runtimeProvider({ ...config, endpoints: [] }, noHttp), route, target, req, tried: new Set() }).ok).toBe(false);
  });

  it('round robin forgets the rotation of providers the snapshot no longer has', () => {
    const rr = new RoundRobinPicker();
    const config: ProviderConfig = { id: 'ns/p', type: 'openai-compatible', endpoints: ['x', 'y'], headers: {}, connectTimeoutMs: 1000 };
    const plain = runtimeProvider(config, noHttp);
    const next = (): string => {
      const r = rr.pick({ provider: plain, route, target, req, tried: new Set() });
      return r.ok ? r.lease.url : '';
    };
    expect(next()).toBe('x');
    rr.retainOnly(new Set(['ns/p']));
    expect(next()).toBe('y');
    rr.retainOnly(new Set(['ns/other']));
    expect(next()).toBe('x');
  });
});
