import { Agent, request } from 'undici';
import type { SendOptions, Transport, UpstreamResponse } from './transport.js';
import type { UpstreamHttpRequest } from '../core/canonical.js';

/**
 * Pooled keep-alive HTTP/1.1 client. One undici Agent per connect timeout (a handful at most); each
 * Agent keeps a pool per origin, so connections survive snapshot swaps.
 */
export class HttpTransport implements Transport {
  private readonly agents = new Map<number, Agent>();

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (agent === undefined) {
      agent = new Agent({
        connect: { timeout: connectTimeoutMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        // The router owns timeouts (attempt, total, stream idle) through abort signals.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }

  async send(req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: opts.signal,
      dispatcher: this.agent(opts.connectTimeoutMs),
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      discard: () => {
        res.body.dump().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}
