import type { RouteConfig, TargetConfig } from '../../config/snapshot.js';
import type { CanonicalRequest, UpstreamFailure } from '../../core/canonical.js';
import type { RuntimeProvider } from '../../providers/registry.js';

/** One attempt's question: which endpoint (base URL) of this provider? */
export interface PickRequest {
  provider: RuntimeProvider;
  route: RouteConfig;
  target: TargetConfig;
  req: CanonicalRequest;
  /** Endpoints this request already tried; a retry goes elsewhere when it can. */
  tried: ReadonlySet<string>;
}

/** An endpoint held by one attempt until its response or stream ends. */
export interface EndpointLease {
  url: string;
  /** Ends the lease; only the first call counts. `failure` tells the picker how the endpoint answered. */
  release(failure?: UpstreamFailure): void;
  /** Seconds of one pod this request held (its share while batched with others); absent when not measured. */
  podSeconds?: () => number;
}

export type PickResult =
  | { ok: true; lease: EndpointLease }
  /** `saturated`: no pod can take the request now (all full or unavailable); the route spills over or answers 503. */
  | { ok: false; failure: UpstreamFailure; saturated: boolean; retryAfterMs?: number };

/** Chooses an endpoint inside one provider; target order across providers is the route strategy's job. */
export interface EndpointPicker {
  pick(request: PickRequest): PickResult;
}

/** The default for hosted APIs and plain endpoints: round robin over the provider's endpoints. */
export class RoundRobinPicker implements EndpointPicker {
  private readonly next = new Map<string, number>();

  /** Forgets the rotation of providers not in `providers` (the snapshot's). */
  retainOnly(providers: ReadonlySet<string>): void {
    for (const id of this.next.keys()) if (!providers.has(id)) this.next.delete(id);
  }

  pick({ provider: { config: provider } }: PickRequest): PickResult {
    const endpoints = provider.endpoints;
    if (endpoints.length === 0) {
      return { ok: false, saturated: false, failure: { kind: 'ConnectionError', status: 0, message: 'provider has no ready endpoints' } };
    }
    const i = this.next.get(provider.id) ?? 0;
    this.next.set(provider.id, (i + 1) % endpoints.length);
    const url = endpoints[i % endpoints.length] ?? '';
    return { ok: true, lease: { url, release: () => undefined } };
  }
}
