import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher, request } from '../../dataplane/config/undici.js';

/** Minimal shape every Kubernetes object has. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T | { code?: number; message?: string; metadata?: { resourceVersion?: string } };
}

/** A failed API call, with the status code that callers branch on (404, 409, 410). */
/**
 * Accept headers asking the API server for objects' metadata only (a PartialObjectMetadataList, or
 * one PartialObjectMetadata): the same verb and RBAC as the full read, a fraction of the bytes.
 */
export const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_ONE = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

/**
 * A small REST client over the API server. @kubernetes/client-node supplies the kubeconfig handling
 * (certificates, tokens, in-cluster service-account files); undici does the HTTP, including watch
 * streams, so that timeouts and cancellation are ours.
 */
export class KubeClient {
  private agent: Agent | undefined;
  private agentKey = '';
  private viewerAgent: Agent | undefined;
  readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
  }

  private async connection(): Promise<{ agent: Agent; headers: Record<string, string> }> {
    const opts: { ca?: unknown; cert?: unknown; key?: unknown; headers?: Record<string, unknown>; rejectUnauthorized?: boolean } = {};
    await this.kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
    const tls = { ca: opts.ca as string | undefined, cert: opts.cert as string | undefined, key: opts.key as string | undefined, rejectUnauthorized: opts.rejectUnauthorized !== false };
    const key = JSON.stringify(tls);
    if (this.agent === undefined || key !== this.agentKey) {
      void this.agent?.close();
      this.agent = new Agent({ connect: tls, keepAliveTimeout: 30_000 });
      this.agentKey = key;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    return { agent: this.agent, headers };
  }

  /** `accept` may ask for another representation, e.g. METADATA_LIST. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal, accept = 'application/json'): Promise<T> {
    const { agent, headers } = await this.connection();
    const res = await request(this.server + path, {
      method,
      dispatcher: agent,
      headers: { ...headers, accept, ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? null : JSON.stringify(body),
      signal: signal ?? AbortSignal.timeout(30_000),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON
      }
      throw new KubeError(res.statusCode, `${method} ${path}: ${res.statusCode} ${message}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** A watch stream: one event per line until the server closes it or `signal` aborts. */
  async *watch<T>(path: string, resourceVersion: string, signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    const { agent, headers } = await this.connection();
    const sep = path.includes('?') ? '&' : '?';
    const url = `${this.server}${path}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    const res = await request(url, { method: 'GET', dispatcher: agent, headers: { ...headers, accept: 'application/json' }, signal, bodyTimeout: 330_000 });
    if (res.statusCode >= 300) {
      const text = await res.body.text();
      throw new KubeError(res.statusCode, `watch ${path}: ${res.statusCode} ${text.slice(0, 200)}`);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) yield JSON.parse(line) as WatchEvent<T>;
        nl = buffer.indexOf('\n');
      }
    }
  }

  /**
   * A GET as someone else (the console's viewer, with their bearer token): the kubeconfig's cluster
   * CA only, never its client certificate or token, so the API server applies the viewer's RBAC.
   */
  async getAs(path: string, token: string, accept = 'application/json'): Promise<{ status: number; body: string }> {
    const answer = await this.streamAs(path, token, accept);
    return { status: answer.status, body: await answer.body.text() };
  }

  /** getAs, its body left to stream: the console relays lists of any size without holding them. */
  async streamAs(path: string, token: string, accept = 'application/json'): Promise<{ status: number; body: Dispatcher.ResponseData['body'] }> {
    if (this.viewerAgent === undefined) {
      const opts: { ca?: unknown; rejectUnauthorized?: boolean } = {};
      await this.kc.applyToHTTPSOptions(opts as Parameters<KubeConfig['applyToHTTPSOptions']>[0]);
      this.viewerAgent = new Agent({ connect: { ca: opts.ca as string | undefined, rejectUnauthorized: opts.rejectUnauthorized !== false }, keepAliveTimeout: 30_000 });
    }
    const res = await request(this.server + path, {
      method: 'GET',
      dispatcher: this.viewerAgent,
      headers: { accept, authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.statusCode, body: res.body };
  }

  async close(): Promise<void> {
    await this.viewerAgent?.close();
    await this.agent?.close();
  }
}
