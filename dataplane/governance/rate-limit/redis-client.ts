import { Redis } from 'ioredis';

export interface RedisConnectionConfig {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  /** Bound for connecting and for every command, in ms. */
  timeoutMs: number;
}

/**
 * A client that fails fast instead of queueing: no offline queue, no per-request retries, every
 * command bounded by timeoutMs. It reconnects in the background (backoff up to 2 s); callers see
 * errors meanwhile and apply their fail mode. Connection errors are reported to onError instead of
 * ioredis's unhandled 'error' event.
 */
export function createRedisClient(config: RedisConnectionConfig, onError: (err: Error) => void = () => {}): Redis {
  const client = new Redis(config.url, {
    connectTimeout: connectTimeoutMs(config),
    commandTimeout: config.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    enableReadyCheck: true,
  });
  client.on('error', onError);
  return client;
}

/** The bound for connecting: the command timeout, but at least 1 s (a TLS handshake plus the ready check). */
export function connectTimeoutMs(config: Pick<RedisConnectionConfig, 'timeoutMs'>): number {
  return Math.max(config.timeoutMs, 1000);
}

/** Resolves when the client is ready, or rejects after timeoutMs. */
export async function waitReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
