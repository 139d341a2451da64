import { createServer } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitCheck } from '../../dataplane/governance/rate-limit/backend.js';
import type { CachedResponse } from '../../dataplane/governance/types.js';
import { governanceFromEnv } from '../../dataplane/main/governance-from-env.js';
import { RedisTestServer } from './redis-server.js';

// A data plane started with TOLLGATE_REDIS_URL serves its first requests through Redis: the
// governance it starts with is connected, not still connecting (which would skip the shared cache
// and apply the fail mode to every new pod's first requests).

let server: RedisTestServer;

beforeAll(async () => {
  server = await RedisTestServer.start();
});

afterAll(async () => {
  await server?.destroy();
});

const answer: CachedResponse = { kind: 'response', body: { id: 'chatcmpl-1', choices: [{ index: 0, message: { role: 'assistant', content: '4' } }] } };
const check: LimitCheck = { key: 'start', dimension: 'requests', limit: 60, cost: 1, description: '' };

describe('governance from the environment with Redis', () => {
  it('is connected when it is returned: the first answer is stored for the next identical request, the first admission counted in Redis', async () => {
    const { rateLimiter, cache } = await governanceFromEnv({ TOLLGATE_REDIS_URL: server.url, TOLLGATE_REDIS_TIMEOUT_MS: '5000' }, pino({ level: 'silent' }));
    try {
      await cache.set('first', answer, 60_000, 10);
      expect(await cache.get('first')).toEqual(answer);
      expect((await rateLimiter.backend.take([check])).reports[0]?.remaining).toBe(59);
      expect(cache.stats).toMatchObject({ stores: 1, hits: 1, errors: 0 });
    } finally {
      await cache.close();
      await rateLimiter.close();
    }
  });

  it('starts anyway after one connect timeout when Redis cannot be reached, and says so', async () => {
    // A port that refuses connections: taken from the OS, then released.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const { rateLimiter, cache } = await governanceFromEnv({ TOLLGATE_REDIS_URL: `redis://127.0.0.1:${address.port}`, TOLLGATE_REDIS_TIMEOUT_MS: '100' }, logger);
    try {
      expect(warnings).toContain('Redis not connected at start-up; serving meanwhile, it connects in the background');
      expect(await cache.get('anything')).toBeUndefined();
    } finally {
      await cache.close();
      await rateLimiter.close();
    }
  });
});
