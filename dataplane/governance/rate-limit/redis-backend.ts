import type { Redis } from 'ioredis';
import type { BucketReport, LimitCheck, RateLimitBackend, TakeResult } from './backend.js';
import { ADJUST_SCRIPT, TAKE_SCRIPT } from './lua-scripts.js';
import { RedisScript } from './redis-script.js';

export interface RedisBackendOptions {
  /** Prepended to every bucket key (default "tollgate:rl:"). */
  keyPrefix?: string;
  /** Close the client with the backend (default true). */
  ownsClient?: boolean;
}

/** Thrown when Redis is not connected; the admitter applies its fail mode. */
export class RedisUnavailableError extends Error {
  constructor(status: string) {
    super(`Redis is not connected (status ${status})`);
    this.name = 'RedisUnavailableError';
  }
}

function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw new Error(`unexpected reply from the rate-limit script: ${String(value)}`);
  return n;
}

/**
 * Exact cluster-wide limits: every pod charges the same buckets in Redis. One EVALSHA per
 * admission covers all of the request's buckets atomically. Needs a single Redis primary (or a
 * managed endpoint in front of one): the keys of one request are not in one Redis Cluster slot.
 */
export class RedisRateLimitBackend implements RateLimitBackend {
  readonly kind = 'redis';
  readonly takeScript = new RedisScript(TAKE_SCRIPT);
  readonly adjustScript = new RedisScript(ADJUST_SCRIPT);
  private readonly prefix: string;

  constructor(
    readonly client: Redis,
    private readonly opts: RedisBackendOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'tollgate:rl:';
  }

  private ensureReady(): void {
    // Fail fast rather than wait for a command timeout while reconnecting.
    if (this.client.status !== 'ready') throw new RedisUnavailableError(this.client.status);
  }

  async take(checks: readonly LimitCheck[]): Promise<TakeResult> {
    this.ensureReady();
    const keys = checks.map((c) => this.prefix + c.key);
    const args = checks.flatMap((c) => [c.limit, c.cost]);
    const reply = await this.takeScript.run(this.client, keys, args);
    if (!Array.isArray(reply) || reply.length !== 1 + 3 * checks.length) {
      throw new Error('unexpected reply from the rate-limit script');
    }
    const reports: BucketReport[] = checks.map((c, i) => {
      const tokens = toNumber(reply[1 + 3 * i]);
      return {
        remaining: Math.min(c.limit, Math.floor(Math.max(0, tokens) + 1e-9)),
        waitMs: toNumber(reply[2 + 3 * i]),
        resetMs: toNumber(reply[3 + 3 * i]),
      };
    });
    return { admitted: toNumber(reply[0]) === 1, reports };
  }

  async adjust(checks: readonly LimitCheck[], deltas: readonly number[]): Promise<void> {
    const pairs = checks.map((c, i) => ({ c, delta: deltas[i] ?? 0 })).filter((p) => p.delta !== 0);
    if (pairs.length === 0) return;
    this.ensureReady();
    await this.adjustScript.run(
      this.client,
      pairs.map((p) => this.prefix + p.c.key),
      pairs.flatMap((p) => [p.c.limit, p.delta]),
    );
  }

  async close(): Promise<void> {
    if (this.opts.ownsClient === false) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
