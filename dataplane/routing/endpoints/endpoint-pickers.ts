import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { type EndpointPicker, type PickRequest, type PickResult, RoundRobinPicker } from './endpoint-picker.js';
import { PodPicker } from './pod-picker.js';
import { PodScraper } from './pod-scraper.js';

export interface EndpointPickersOptions {
  /** Scrape pod /metrics and /health (off in unit tests that drive the pod state themselves). */
  scrape?: boolean;
  now?: () => number;
}

/**
 * The endpoint pickers of one data plane: load-aware pod picking for providers whose pods report
 * their load (RuntimeProvider.podLoad, from the registry), round robin for everything else. Kept across snapshots; `sync` on every new one.
 */
export class EndpointPickers implements EndpointPicker {
  readonly pods: PodPicker;
  private readonly roundRobin = new RoundRobinPicker();
  private readonly scraper: PodScraper | undefined;

  constructor(opts: EndpointPickersOptions = {}) {
    const now = opts.now ?? Date.now;
    this.scraper = opts.scrape === true ? new PodScraper(now) : undefined;
    this.pods = new PodPicker(now, this.scraper);
  }

  pick(request: PickRequest): PickResult {
    return request.provider.podLoad !== undefined ? this.pods.pick(request) : this.roundRobin.pick(request);
  }

  sync(runtime: RuntimeSnapshot): void {
    this.pods.sync([...runtime.providers.values()]);
    this.roundRobin.retainOnly(new Set(runtime.providers.keys()));
  }

  async close(): Promise<void> {
    await this.scraper?.close();
  }
}
