import type { Logger } from 'pino';
import { Agent, request } from '../../dataplane/config/undici.js';
import { PushResultSchema, type SnapshotEnvelope } from '../../dataplane/config/snapshot-envelope.js';
import { wireJson } from '../../dataplane/config/secret-value.js';
import { NOOP_OPERATOR_TRACING, type OperatorTracing } from '../telemetry/operator-tracing.js';

/** A data-plane pod as its Service's EndpointSlices show it. */
export interface DataplaneEndpoint {
  /** host:port of the admin port */
  address: string;
  ready: boolean;
  /**
   * Shutting down (EndpointSlice conditions.terminating): not ready, but still serving, new requests
   * during its preStop delay and those of connections already open while it drains.
   */
  terminating?: boolean;
}

interface PodState {
  endpoint: DataplaneEndpoint;
  acked: number;
  pushing: boolean;
  failures: number;
  /** A push to this pod has completed at least once (either way). */
  contacted: boolean;
  retryTimer: NodeJS.Timeout | undefined;
}

export interface DistributorOptions {
  token: string;
  logger: Logger;
  /** Push over TLS: the CA that signed the pods' admin certificates and the name they carry. */
  tls?: { ca: string; serverName: string };
  concurrency?: number;
  pushTimeoutMs?: number;
  /** Called after every completed push, successful or not (to update Programmed). */
  onAck?: () => void;
  /** Called with the push duration of every successful push, seconds. */
  onPushed?: (seconds: number) => void;
  /** Called when a pod serves a newer generation than ours (a previous leader): publish above it. */
  onStale?: (podGeneration: number) => void;
  /** A span per push (traceparent sent to the pod). */
  tracing?: OperatorTracing;
}

/**
 * Pushes the current snapshot to every data-plane pod (ready or not: a new pod becomes ready by
 * receiving it), with bounded concurrency and per-pod retry with backoff. A pod acknowledges by
 * generation; Programmed is derived from what the ready pods acknowledged.
 */
export class Distributor {
  private current: SnapshotEnvelope | undefined;
  private body = '';
  private readonly pods = new Map<string, PodState>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private enabled = false;
  private readonly tlsAgent: Agent | undefined;

  constructor(private readonly opts: DistributorOptions) {
    // Pod IPs change; the certificate names the Service, so verify against that name (SNI too).
    if (opts.tls !== undefined) this.tlsAgent = new Agent({ connect: { ca: opts.tls.ca, servername: opts.tls.serverName } });
  }

  get envelope(): SnapshotEnvelope | undefined {
    return this.current;
  }

  get bodyBytes(): number {
    return Buffer.byteLength(this.body);
  }

  /** Only the leader pushes. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (enabled) for (const pod of this.pods.values()) this.schedule(pod, 0);
  }

  publish(envelope: SnapshotEnvelope): void {
    this.current = envelope;
    this.body = wireJson(envelope);
    for (const pod of this.pods.values()) {
      pod.failures = 0;
      this.schedule(pod, 0);
    }
  }

  setEndpoints(endpoints: DataplaneEndpoint[]): void {
    const seen = new Set<string>();
    for (const endpoint of endpoints) {
      seen.add(endpoint.address);
      const existing = this.pods.get(endpoint.address);
      if (existing !== undefined) {
        existing.endpoint = endpoint;
        continue;
      }
      const pod: PodState = { endpoint, acked: -1, pushing: false, failures: 0, contacted: false, retryTimer: undefined };
      this.pods.set(endpoint.address, pod);
      this.schedule(pod, 0);
    }
    for (const [address, pod] of this.pods) {
      if (!seen.has(address)) {
        clearTimeout(pod.retryTimer);
        this.pods.delete(address);
      }
    }
  }

  /**
   * Every known pod has answered (or failed) a push of some snapshot. Until then, what the pods
   * serve is unknown, and Programmed must not be written from a guess (a restarted operator would
   * flip every object to Pending and back).
   */
  settled(): boolean {
    for (const pod of this.pods.values()) if (!pod.contacted) return false;
    return true;
  }

  readyCount(): number {
    let n = 0;
    for (const pod of this.pods.values()) if (pod.endpoint.ready) n++;
    return n;
  }

  /**
   * Pods that take requests and so spend against Budgets: the ready ones and the terminating ones.
   * Each pod may use only its share of what a Budget has left; counted by readiness alone, a rolling
   * update's terminating pods went uncounted while they served, and N + k pods each took 1/N.
   */
  servingCount(): number {
    let n = 0;
    for (const pod of this.pods.values()) if (pod.endpoint.ready || pod.endpoint.terminating === true) n++;
    return n;
  }

  /** How many ready pods serve at least `generation`. */
  progress(generation: number): { ready: number; acked: number } {
    let ready = 0;
    let acked = 0;
    for (const pod of this.pods.values()) {
      if (!pod.endpoint.ready) continue;
      ready++;
      if (pod.acked >= generation) acked++;
    }
    return { ready, acked };
  }

  stop(): void {
    this.enabled = false;
    for (const pod of this.pods.values()) clearTimeout(pod.retryTimer);
  }

  private schedule(pod: PodState, delayMs: number): void {
    clearTimeout(pod.retryTimer);
    pod.retryTimer = setTimeout(() => void this.push(pod), delayMs);
  }

  private async slot(): Promise<() => void> {
    const limit = this.opts.concurrency ?? 16;
    if (this.active >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    return () => {
      this.active--;
      this.waiting.shift()?.();
    };
  }

  private async push(pod: PodState): Promise<void> {
    const envelope = this.current;
    if (!this.enabled || envelope === undefined || pod.pushing || pod.acked >= envelope.generation) return;
    if (this.pods.get(pod.endpoint.address) !== pod) return;
    pod.pushing = true;
    const release = await this.slot();
    const started = process.hrtime.bigint();
    let retry = true;
    const span = (this.opts.tracing ?? NOOP_OPERATOR_TRACING).push(pod.endpoint.address, envelope.generation);
    let traced: { outcome: 'acked' | 'stale' | 'refused' | 'failed'; status?: number; podGeneration?: number } = { outcome: 'failed' };
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` };
      span.inject(headers);
      const res = await request(`${this.opts.tls === undefined ? 'http' : 'https'}://${pod.endpoint.address}/v1/snapshot`, {
        method: 'PUT',
        ...(this.tlsAgent === undefined ? {} : { dispatcher: this.tlsAgent }),
        headers,
        body: this.body,
        signal: AbortSignal.timeout(this.opts.pushTimeoutMs ?? 10_000),
      });
      const parsed = PushResultSchema.safeParse(await res.body.json().catch(() => undefined));
      const result = parsed.success ? parsed.data : undefined;
      const outcome = result === undefined ? 'failed' : res.statusCode === 200 ? 'acked' : res.statusCode === 409 ? 'stale' : res.statusCode === 400 ? 'refused' : 'failed';
      traced = { outcome, status: res.statusCode, ...(result === undefined ? {} : { podGeneration: result.generation }) };
      if (res.statusCode === 200 && result !== undefined) {
        pod.acked = result.generation;
        pod.failures = 0;
        retry = false;
        this.opts.onPushed?.(Number(process.hrtime.bigint() - started) / 1e9);
        this.opts.onAck?.();
      } else if (res.statusCode === 409 && result !== undefined) {
        pod.acked = -1;
        retry = false;
        this.opts.onStale?.(result.generation);
      } else if (res.statusCode === 400) {
        // The pod refused the snapshot as invalid and keeps its last good one; pushing the same again is pointless.
        retry = false;
        this.opts.logger.error({ pod: pod.endpoint.address, generation: envelope.generation, error: result?.error }, 'data plane refused the snapshot');
      } else {
        this.opts.logger.warn({ pod: pod.endpoint.address, status: res.statusCode }, 'snapshot push failed');
      }
    } catch (err) {
      this.opts.logger.debug({ pod: pod.endpoint.address, err: (err as Error).message }, 'snapshot push failed');
    } finally {
      span.end(traced.outcome, traced.status, traced.podGeneration);
      release();
      pod.pushing = false;
      if (!pod.contacted) {
        pod.contacted = true;
        if (retry) this.opts.onAck?.();
      }
    }
    if (retry) {
      pod.failures++;
      this.schedule(pod, Math.min(250 * 2 ** (pod.failures - 1), 5_000));
    } else if (this.current !== undefined && pod.acked < this.current.generation && this.current !== envelope) {
      this.schedule(pod, 0);
    }
  }
}
