import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script sent by SHA (EVALSHA, one round trip); when Redis does not know it yet (NOSCRIPT:
 * first use, restart, SCRIPT FLUSH) it is sent once in full with EVAL, which also caches it.
 */
export class RedisScript {
  readonly sha: string;
  /** How often EVAL was needed; for tests and debugging. */
  loads = 0;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      this.loads++;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
