import type { Logger } from 'pino';
import { trustingConnector } from '../../dataplane/config/channel-connections.js';
import { Agent, request } from '../../dataplane/config/undici.js';
import { PushResultSchema, type SnapshotEnvelope } from '../../dataplane/config/snapshot-envelope.js';
import { runToEnd } from '../../dataplane/config/sliced.js';
import { SNAPSHOT_BODY_LIMIT } from '../../dataplane/config/channel-answers.js';
import { SNAPSHOT_FORMATS_HEADER, SNAPSHOT_LINES_TYPE, namesLines, type WireBodies, wireBodiesSteps } from '../../dataplane/config/snapshot-lines.js';
import { NOOP_OPERATOR_TRACING, type OperatorTracing } from '../telemetry/operator-tracing.js';

/**
 * A pod's push or status answer is a few hundred bytes: past this it is not read further, and is no
 * answer. Before, the whole of it was read (and its `error` logged), whatever its size.
 */
const ANSWER_LIMIT = 64 * 1024;

/** The JSON of a pod's answer, undefined when it is not JSON or larger than ANSWER_LIMIT. */
async function answerJson(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > ANSWER_LIMIT) {
        body.destroy();
        return undefined;
      }
      chunks.push(chunk);
    }
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A data-plane pod as its Service's EndpointSlices show it. */
/** Why a push got no usable answer (DistributorOptions.onFailed). */
export type PushFailure = 'unauthorized' | 'server_error' | 'bad_answer' | 'timeout' | 'unreachable';

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
  /** The pod's last push got an HTTP answer (whatever its status). */
  answered: boolean;
  /** The pod's last push got no answer (timed out, connection refused or reset). */
  unanswered: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  /**
   * The snapshot form this pod reads, from its last answer (SNAPSHOT_FORMATS_HEADER): the line form
   * until an answer says otherwise; a pod from before it gets JSON (snapshot-lines.ts).
   */
  lines: boolean;
}

export interface DistributorOptions {
  token: string;
  logger: Logger;
  /** Push over TLS: the CA that signed the pods' admin certificates and the name they carry. */
  tls?: { ca: string; serverName: string };
  concurrency?: number;
  pushTimeoutMs?: number;
  /** How long a connection to a pod may take; a lost node's pods otherwise hold a slot for the whole push timeout. Default 2 s. */
  connectTimeoutMs?: number;
  /** Called after every completed push, successful or not (to update Programmed). */
  onAck?: () => void;
  /** Called with the push duration of every successful push, seconds. */
  onPushed?: (seconds: number) => void;
  /** Called when a pod refused ours as stale (409): what it serves (`term` absent from pods before terms). */
  onStale?: (pod: { generation: number; term?: number }) => void;
  /**
   * Called for every refused push: `stale` (409, a newer generation in our term), `stale_term` (409,
   * the pod serves a higher leader term: we have been deposed), `invalid` (400).
   */
  onRefused?: (reason: 'stale' | 'stale_term' | 'invalid') => void;
  /**
   * Called for every push that got no usable answer, by reason: `unauthorized` (401/403: the admin
   * token differs on one side, which does not heal by itself), `server_error` (another status, e.g.
   * 503 from a pod still starting), `bad_answer` (a 200 that is not the push result), `timeout`, `unreachable`.
   */
  onFailed?: (reason: PushFailure) => void;
  /**
   * How often to ask each pod what it serves (GET /v1/snapshot/status) once it acknowledged the
   * current snapshot; 0 turns it off. Default 15 s.
   */
  verifyIntervalMs?: number;
  /** A span per push (traceparent sent to the pod). */
  tracing?: OperatorTracing;
  /** The largest body a pod accepts; a line form above it is not sent (JSON is). Default SNAPSHOT_BODY_LIMIT. */
  bodyLimitBytes?: number;
}

/**
 * Pushes the current snapshot to every data-plane pod (ready or not: a new pod becomes ready by
 * receiving it), with bounded concurrency and per-pod retry with backoff. A pod acknowledges by
 * generation; Programmed is derived from what the ready pods acknowledged.
 */
export class Distributor {
  private current: SnapshotEnvelope | undefined;
  private body = '';
  private lines: string | undefined;
  private readonly pods = new Map<string, PodState>();
  private active = 0;
  /** Slots held by pods that are not preferred (see `preferred`). */
  private activeOther = 0;
  private readonly waitingPreferred: (() => void)[] = [];
  private readonly waitingOther: (() => void)[] = [];
  private enabled = false;
  private readonly agent: Agent;
  private readonly connector: ReturnType<typeof trustingConnector> | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DistributorOptions) {
    // Pod IPs change; the certificate names the Service, so verify against that name (SNI too).
    const timeout = opts.connectTimeoutMs ?? 2_000;
    this.connector = opts.tls === undefined ? undefined : trustingConnector({ timeout, ca: opts.tls.ca, servername: opts.tls.serverName });
    this.agent = new Agent({ connect: this.connector?.connect ?? { timeout } });
  }

  /** Verifies the pods' certificates against this CA bundle from the next connection on (a rotated --dataplane-ca). */
  trustCa(ca: string): void {
    this.connector?.trust(ca);
  }

  get envelope(): SnapshotEnvelope | undefined {
    return this.current;
  }

  /**
   * The current envelope's wire form, serialised once at publish: a pod's pull is answered with it
   * (serialising a 5,000-route snapshot again took 90-250 ms of the operator's event loop per pull).
   */
  get wireBody(): string | undefined {
    return this.current === undefined ? undefined : this.body;
  }

  /** The current envelope's line form (answers pulls that ask for it); undefined when it does not fit a pod's body limit. */
  get wireLines(): string | undefined {
    return this.current === undefined ? undefined : this.lines;
  }

  get bodyBytes(): number {
    return Buffer.byteLength(this.body);
  }

  /** Only the leader pushes. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    clearInterval(this.verifyTimer);
    this.verifyTimer = undefined;
    if (!enabled) return;
    for (const pod of this.pods.values()) this.schedule(pod, 0);
    const every = this.opts.verifyIntervalMs ?? 15_000;
    if (every > 0) {
      this.verifyTimer = setInterval(() => this.verify(), every);
      this.verifyTimer.unref();
    }
  }

  /**
   * `bodies`: the envelope's two wire forms (snapshot-lines.ts); the reconciler serialises them in
   * slices (in one piece, a 5,000-route snapshot held the operator's loop ~100 ms).
   */
  publish(envelope: SnapshotEnvelope, bodies: WireBodies = runToEnd(wireBodiesSteps(envelope))): void {
    this.current = envelope;
    this.body = bodies.json;
    // The line form is a few bytes an item longer than JSON, which the snapshot budget sizes: near
    // the pods' body limit it may not fit where JSON does, and then JSON goes to every pod.
    this.lines = Buffer.byteLength(bodies.lines) <= (this.opts.bodyLimitBytes ?? SNAPSHOT_BODY_LIMIT) ? bodies.lines : undefined;
    for (const pod of this.pods.values()) {
      // A pod that does not answer keeps its backoff (its retry pushes what is current then): reset
      // on every publish, 16 such pods took every slot for 10 s on each change.
      if (pod.unanswered) continue;
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
      const pod: PodState = { endpoint, acked: -1, pushing: false, failures: 0, contacted: false, answered: false, unanswered: false, retryTimer: undefined, lines: true };
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
   * Every known pod has answered (or failed) a push of some snapshot, or nothing was published. Until then, what the pods
   * serve is unknown, and Programmed must not be written from a guess (a restarted operator would
   * flip every object to Pending and back).
   */
  settled(): boolean {
    // Nothing published (the first snapshot was too large): no push will come to wait for, and the
    // statuses must say why nothing is programmed.
    if (this.current === undefined) return true;
    // Only ready pods count for Programmed; unready ones that never answer would hold statuses back.
    for (const pod of this.pods.values()) if (pod.endpoint.ready && !pod.contacted) return false;
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
    clearInterval(this.verifyTimer);
    for (const pod of this.pods.values()) clearTimeout(pod.retryTimer);
    void this.agent.close().catch(() => undefined);
  }

  private schedule(pod: PodState, delayMs: number): void {
    clearTimeout(pod.retryTimer);
    pod.retryTimer = setTimeout(() => void this.push(pod), delayMs);
  }

  private url(pod: PodState, path: string): string {
    return `${this.opts.tls === undefined ? 'http' : 'https'}://${pod.endpoint.address}${path}`;
  }

  /**
   * An acknowledgement says what a pod served then, not now: it may have restarted at the same
   * address and pulled another snapshot, or taken one from another publisher. Pods that serve
   * something other than what they acknowledged are pushed to again (and count as not current, so
   * Programmed says so meanwhile).
   */
  private verify(): void {
    const envelope = this.current;
    if (!this.enabled || envelope === undefined) return;
    for (const pod of this.pods.values()) {
      if (!pod.pushing && pod.acked >= envelope.generation) void this.check(pod, envelope);
    }
  }

  private async check(pod: PodState, envelope: SnapshotEnvelope): Promise<void> {
    const release = await this.slot(true);
    try {
      const res = await request(this.url(pod, '/v1/snapshot/status'), {
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${this.opts.token}` },
        signal: AbortSignal.timeout(this.opts.pushTimeoutMs ?? 10_000),
      });
      const parsed = PushResultSchema.safeParse(await answerJson(res.body));
      if (res.statusCode !== 200 || !parsed.success) return;
      if (this.current !== envelope || pod.pushing || this.pods.get(pod.endpoint.address) !== pod || pod.acked < envelope.generation) return;
      const serves = parsed.data;
      const same = serves.generation === envelope.generation && serves.version === envelope.snapshot.version && (serves.term === undefined || serves.term === (envelope.term ?? 0));
      if (same) return;
      this.opts.logger.warn(
        { pod: pod.endpoint.address, generation: serves.generation, term: serves.term, expected: { generation: envelope.generation, term: envelope.term } },
        'data-plane pod serves another snapshot than it acknowledged; pushing again',
      );
      pod.acked = -1;
      this.opts.onAck?.();
      this.schedule(pod, 0);
    } catch (err) {
      // Unreachable now: the endpoints (readiness) say whether it still counts; the next round asks again.
      this.opts.logger.debug({ pod: pod.endpoint.address, err: (err as Error).message }, 'snapshot status check failed');
    } finally {
      release();
    }
  }

  /**
   * Pods first in line for a slot: those that answered their last push, and ready ones not known to
   * be unreachable. The others (unready pods never heard from, pods that stopped answering: a lost
   * node's stay in the EndpointSlice for minutes) hold at most a quarter of the slots: before, 16
   * pods that accept connections and never answer delayed every push to the healthy ones by the
   * whole push timeout (10 s).
   */
  private preferred(pod: PodState): boolean {
    return !pod.unanswered && (pod.answered || pod.endpoint.ready);
  }

  private otherLimit(): number {
    return Math.max(1, Math.floor((this.opts.concurrency ?? 16) / 4));
  }

  private canTake(preferred: boolean): boolean {
    return this.active < (this.opts.concurrency ?? 16) && (preferred || this.activeOther < this.otherLimit());
  }

  private take(preferred: boolean): void {
    this.active++;
    if (!preferred) this.activeOther++;
  }

  /** A slot, handed over taken: preferred waiters are served first. */
  private async slot(preferred: boolean): Promise<() => void> {
    if (this.canTake(preferred)) this.take(preferred);
    else await new Promise<void>((resolve) => (preferred ? this.waitingPreferred : this.waitingOther).push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      if (!preferred) this.activeOther--;
      for (let next = this.waitingPreferred[0]; next !== undefined && this.canTake(true); next = this.waitingPreferred[0]) {
        this.waitingPreferred.shift();
        this.take(true);
        next();
      }
      for (let next = this.waitingOther[0]; next !== undefined && this.canTake(false); next = this.waitingOther[0]) {
        this.waitingOther.shift();
        this.take(false);
        next();
      }
    };
  }

  private async push(pod: PodState): Promise<void> {
    const envelope = this.current;
    if (!this.enabled || envelope === undefined || pod.pushing || pod.acked >= envelope.generation) return;
    if (this.pods.get(pod.endpoint.address) !== pod) return;
    pod.pushing = true;
    const release = await this.slot(this.preferred(pod));
    const started = process.hrtime.bigint();
    let retry = true;
    let resend = false;
    const span = (this.opts.tracing ?? NOOP_OPERATOR_TRACING).push(pod.endpoint.address, envelope.generation);
    let traced: { outcome: 'acked' | 'stale' | 'refused' | 'failed'; status?: number; podGeneration?: number } = { outcome: 'failed' };
    try {
      const lines = pod.lines ? this.lines : undefined;
      const sentLines = lines !== undefined;
      const headers: Record<string, string> = { 'content-type': sentLines ? SNAPSHOT_LINES_TYPE : 'application/json', authorization: `Bearer ${this.opts.token}` };
      span.inject(headers);
      const res = await request(this.url(pod, '/v1/snapshot'), {
        method: 'PUT',
        dispatcher: this.agent,
        headers,
        body: lines ?? this.body,
        signal: AbortSignal.timeout(this.opts.pushTimeoutMs ?? 10_000),
      });
      pod.answered = true;
      pod.unanswered = false;
      pod.lines = namesLines(res.headers[SNAPSHOT_FORMATS_HEADER]);
      if (sentLines && !pod.lines) {
        // A pod from before the line form (it read no envelope): the same push again, as JSON, now.
        await res.body.dump().catch(() => undefined);
        traced = { outcome: 'failed', status: res.statusCode };
        retry = false;
        resend = true;
        return;
      }
      const parsed = PushResultSchema.safeParse(await answerJson(res.body));
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
        const newerTerm = result.term !== undefined && result.term > (envelope.term ?? 0);
        this.opts.onRefused?.(newerTerm ? 'stale_term' : 'stale');
        this.opts.onStale?.({ generation: result.generation, ...(result.term === undefined ? {} : { term: result.term }) });
      } else if (res.statusCode === 400) {
        // The pod refused the snapshot as invalid and keeps its last good one; pushing the same again is pointless.
        retry = false;
        this.opts.onRefused?.('invalid');
        this.opts.logger.error({ pod: pod.endpoint.address, generation: envelope.generation, error: result?.error?.slice(0, 1000) }, 'data plane refused the snapshot');
      } else {
        this.opts.onFailed?.(res.statusCode === 401 || res.statusCode === 403 ? 'unauthorized' : res.statusCode === 200 ? 'bad_answer' : 'server_error');
        this.opts.logger.warn({ pod: pod.endpoint.address, status: res.statusCode }, 'snapshot push failed');
      }
    } catch (err) {
      this.opts.onFailed?.((err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable');
      if (!pod.answered || pod.failures > 0) {
        // No answer now, nor since it last failed: it goes to the back of the line.
        pod.answered = false;
        pod.unanswered = true;
      }
      this.opts.logger.debug({ pod: pod.endpoint.address, err: (err as Error).message }, 'snapshot push failed');
    } finally {
      span.end(traced.outcome, traced.status, traced.podGeneration);
      release();
      pod.pushing = false;
      // (The try returned: what follows the finally does not run for a resend.)
      if (resend) void this.push(pod);
      else if (!pod.contacted) {
        pod.contacted = true;
        if (retry) this.opts.onAck?.();
      }
    }
    if (retry) {
      pod.failures++;
      // A pod that does not answer is retried less often: each try holds a slot for the push timeout.
      this.schedule(pod, Math.min(250 * 2 ** (pod.failures - 1), pod.unanswered ? 30_000 : 5_000));
    } else if (this.current !== undefined && pod.acked < this.current.generation && this.current !== envelope) {
      this.schedule(pod, 0);
    }
  }
}
