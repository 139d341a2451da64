import type { Logger } from 'pino';
import { Agent, request } from '../../config/undici.js';
import { guardedConnector } from '../../config/guarded-connector.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import type { ProviderConfig } from '../../config/snapshot.js';
import type { TargetHealth } from './target-health.js';

type HealthCheck = NonNullable<ProviderConfig['healthCheck']>;

interface Loop {
  key: string;
  timer: NodeJS.Timeout | undefined;
  failures: number;
  successes: number;
  down: boolean;
  stopped: boolean;
}

/**
 * Active health checks from a Provider's healthCheck settings: GET <endpoint><path> on an interval.
 * Any HTTP answer below 500 counts as up — probes send no credentials (a 401 still proves the API
 * is there), so keys never go to a health endpoint. After unhealthyThreshold failures in a row the
 * provider's targets are skipped by every route (unless nothing else is left); after
 * healthyThreshold successes they return.
 */
export class ActiveHealthChecker {
  private readonly loops = new Map<string, Loop>();
  // A Provider's URL is a tenant's: as every other connection to something a tenant names, never a
  // cloud metadata or other link-local address (egress-guard.ts). request() without a dispatcher
  // would take undici's global agent, which has no guard. (10 s: undici's default connect timeout;
  // each probe is bounded by its own timeout.)
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connect: guardedConnector(10_000) });

  constructor(
    private readonly health: TargetHealth,
    private readonly logger: Logger,
  ) {}

  sync(runtime: RuntimeSnapshot): void {
    const wanted = new Map<string, ProviderConfig & { healthCheck: HealthCheck }>();
    for (const p of runtime.snapshot.providers) {
      if (p.healthCheck !== undefined && p.endpoints.length > 0) wanted.set(p.id, { ...p, healthCheck: p.healthCheck });
    }
    for (const [id, loop] of this.loops) {
      const p = wanted.get(id);
      if (p === undefined || keyOf(p) !== loop.key) this.stop(id);
    }
    for (const [id, p] of wanted) if (!this.loops.has(id)) this.start(p);
  }

  private start(p: ProviderConfig & { healthCheck: HealthCheck }): void {
    const loop: Loop = { key: keyOf(p), timer: undefined, failures: 0, successes: 0, down: false, stopped: false };
    this.loops.set(p.id, loop);
    const tick = async (): Promise<void> => {
      const error = await probe(p, this.agent);
      if (loop.stopped) return;
      if (error === undefined) {
        loop.failures = 0;
        loop.successes++;
        if (loop.down && loop.successes >= p.healthCheck.healthyThreshold) {
          loop.down = false;
          this.health.markProvider(p.id, undefined);
          this.logger.info({ provider: p.id }, 'provider passes its health check again');
        }
      } else {
        loop.successes = 0;
        loop.failures++;
        if (!loop.down && loop.failures >= p.healthCheck.unhealthyThreshold) {
          loop.down = true;
          this.health.markProvider(p.id, error);
          this.logger.warn({ provider: p.id, error }, 'provider fails its health check');
        }
      }
      loop.timer = setTimeout(() => void tick(), p.healthCheck.intervalMs);
      loop.timer.unref();
    };
    void tick();
  }

  private stop(id: string): void {
    const loop = this.loops.get(id);
    if (loop === undefined) return;
    loop.stopped = true;
    clearTimeout(loop.timer);
    this.loops.delete(id);
    this.health.markProvider(id, undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.loops.keys()]) this.stop(id);
    await this.agent.close();
  }
}

function keyOf(p: ProviderConfig & { healthCheck: HealthCheck }): string {
  return JSON.stringify([p.endpoints, p.healthCheck]);
}

/** undefined when at least one endpoint answers below 500, else why not. */
async function probe(p: ProviderConfig & { healthCheck: HealthCheck }, dispatcher: Agent): Promise<string | undefined> {
  let last = 'no endpoints';
  for (const base of p.endpoints) {
    try {
      const res = await request(base + p.healthCheck.path, { method: 'GET', signal: AbortSignal.timeout(p.healthCheck.timeoutMs), dispatcher });
      await res.body.dump();
      if (res.statusCode < 500) return undefined;
      last = `GET ${p.healthCheck.path} answered ${res.statusCode}`;
    } catch (err) {
      last = `GET ${p.healthCheck.path} failed: ${(err as Error).message}`;
    }
  }
  return last;
}
