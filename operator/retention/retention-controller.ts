import type { Logger } from 'pino';
import { CAPTURE_STREAMS, type CaptureStream, writerTag } from '../../dataplane/config/capture-layout.js';
import type { Condition } from '../api/common.js';
import { type DataPolicy, DataPolicySchema, type DataPolicyStatus } from '../api/data-policy.js';
import { durationToMs } from '../api/duration.js';
import type { SecretInput } from '../compile/types.js';
import type { SecretObject } from '../controller/kube-types.js';
import { type DesiredCondition, mergeConditions } from '../controller/status-conditions.js';
import type { EventRecorder } from '../kube/event-recorder.js';
import { KubeError, type KubeClient, type KubeObject } from '../kube/kube-client.js';
import { checkDestination, type DestinationReadiness, type S3Target } from './destination-check.js';
import { type StreamSweep, sweep, type SweepLimits } from './sweep.js';
import { cutWithin } from '../kube/text-cut.js';

export interface RetentionControllerOptions {
  client: Pick<KubeClient, 'request'>;
  /** The informers' caches, keyed namespace/name. */
  dataPolicies: Map<string, KubeObject>;
  secrets: Map<string, SecretObject>;
  isLeader: () => boolean;
  events: Pick<EventRecorder, 'record'>;
  logger: Logger;
  /**
   * This installation (`<release namespace>/<Lease name>`): a DataPolicy whose status names another
   * is that installation's to check, sweep and write (the reconciler records the Event).
   */
  installation?: string;
  /** The top-level DestinationReady condition changed: the reconciler writes conditions. */
  onConditionsChanged: () => void;
  /** Between two sweeps (and two bucket checks) of one policy; default 10 minutes. */
  intervalMs?: number;
  /** How often due work is looked for; default min(interval, 15 s). */
  tickMs?: number;
  limits?: Partial<SweepLimits>;
  now?: () => number;
  /** After each policy's sweep: what it deleted per stream, and how it ended. */
  onSwept?: (deleted: Partial<Record<CaptureStream, { objects: number; bytes: number }>>, result: 'complete' | 'partial' | 'failed') => void;
}

interface PolicyState {
  /** Generation and referenced Secrets' resourceVersions: a change re-checks the destinations at once. */
  fingerprint: string;
  checkedAtMs: number;
  destinations: DestinationReadiness[];
  /** The last sweep stopped at its limit: the next tick continues. */
  incomplete: boolean;
  sweepError: string | undefined;
}

type StatusObject = KubeObject & { status?: DataPolicyStatus };

const DEFAULT_LIMITS: SweepLimits = { maxDeletes: 10_000, maxListCalls: 2_000 };

/**
 * Retention of captured records, run by the leader only: per DataPolicy, it checks each
 * destination (status.destinations[].conditions DestinationReady, summed up in the top-level
 * DestinationReady condition the reconciler writes) and, every interval, sweeps the policy's
 * expired objects from its s3 destinations, content and metadata each by their own retention
 * (status.retention). All it needs across restarts is in status: the last sweep time decides when
 * the next is due, totals carry on, and a sweep is idempotent, so a new leader simply continues.
 */
export class RetentionController {
  private readonly state = new Map<string, PolicyState>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly limits: SweepLimits;
  private readonly now: () => number;

  constructor(private readonly opts: RetentionControllerOptions) {
    this.intervalMs = opts.intervalMs ?? 600_000;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    const tickMs = this.opts.tickMs ?? Math.min(this.intervalMs, 15_000);
    const tick = (): void => {
      this.running = this.pass()
        .catch((err: unknown) => this.opts.logger.error({ err: (err as Error).message }, 'retention pass failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, tickMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Leadership lost: the next leader re-checks from status. */
  reset(): void {
    this.state.clear();
  }

  /** The summary condition for the reconciler; undefined until the destinations were checked. */
  condition(namespace: string, name: string, generation: number | undefined): DesiredCondition | undefined {
    const s = this.state.get(`${namespace}/${name}`);
    if (s === undefined || s.destinations.length === 0) return undefined;
    return summary(s.destinations, generation);
  }

  /**
   * One look at every policy: what is due is done, one policy at a time. A policy that fails (its
   * bucket, its status write) holds back no other policy's sweep: the first failure is thrown once
   * every policy was visited.
   */
  async pass(): Promise<void> {
    if (!this.opts.isLeader()) return;
    const policies: { key: string; policy: DataPolicy; raw: StatusObject }[] = [];
    for (const raw of this.opts.dataPolicies.values()) {
      // Another installation's (two watching one namespace): it sweeps the same destinations and
      // writes the status. Before, both swept them and wrote destinations and retention totals over
      // each other's (each adding its own deletions to the totals it read).
      const claimant = (raw as StatusObject & { status?: { installation?: string } }).status?.installation;
      if (this.opts.installation !== undefined && claimant !== undefined && claimant !== '' && claimant !== this.opts.installation) continue;
      const parsed = DataPolicySchema.safeParse(raw);
      if (parsed.success) policies.push({ key: `${parsed.data.metadata.namespace ?? 'default'}/${parsed.data.metadata.name}`, policy: parsed.data, raw: raw as StatusObject });
    }
    const live = new Set(policies.map((p) => p.key));
    for (const key of this.state.keys()) if (!live.has(key)) this.state.delete(key);
    let failed: unknown;
    for (const { key, policy, raw } of policies) {
      if (!this.opts.isLeader()) return;
      try {
        await this.visit(key, policy, raw);
      } catch (err) {
        this.opts.logger.warn({ dataPolicy: key, err: (err as Error).message }, 'retention of a DataPolicy failed');
        failed ??= err;
      }
    }
    if (failed !== undefined) throw failed;
  }

  private async visit(key: string, policy: DataPolicy, raw: StatusObject): Promise<void> {
    const ns = policy.metadata.namespace ?? 'default';
    const gen = policy.metadata.generation;
    const secrets = this.referencedSecrets(policy, ns);
    const fingerprint = JSON.stringify([gen, secrets.map((s) => s.version)]);
    const now = this.now();
    const previous = this.state.get(key);
    const checkDue = previous === undefined || previous.fingerprint !== fingerprint || now - previous.checkedAtMs >= this.intervalMs;
    const retention = raw.status?.retention;
    const lastSweepMs = retention?.lastSweepTime === undefined ? undefined : Date.parse(retention.lastSweepTime);
    const retentionMs = streamRetention(policy);
    const sweepDue =
      Object.keys(retentionMs).length > 0 &&
      (lastSweepMs === undefined ||
        now - lastSweepMs >= this.intervalMs ||
        retention?.observedGeneration !== gen ||
        previous?.incomplete === true ||
        (previous !== undefined && previous.fingerprint !== fingerprint));
    if (!checkDue && !sweepDue) return;

    const checks = await Promise.all(policy.spec.destinations.map((d) => checkDestination(d, ns, secrets.map((s) => s.input))));
    const destinations = checks.map((c) => c.readiness);
    const state: PolicyState = { fingerprint, checkedAtMs: now, destinations, incomplete: false, sweepError: previous?.sweepError };
    this.state.set(key, state);
    const before = previous === undefined ? undefined : summary(previous.destinations, gen);
    const after = summary(destinations, gen);
    if (destinations.length > 0 && (before?.status !== after.status || before.message !== after.message)) this.opts.onConditionsChanged();

    const status: DataPolicyStatus = { destinations: this.destinationStatus(raw, destinations, gen) };
    if (sweepDue) {
      const targets = checks.flatMap((c) => (c.s3 === undefined ? [] : [c.s3]));
      status.retention = await this.sweepTargets(policy, raw, targets, retentionMs, state);
    }
    await this.writeStatus(raw, status);
  }

  private referencedSecrets(policy: DataPolicy, ns: string): { version: string; input: SecretInput }[] {
    return policy.spec.destinations.flatMap((d) => {
      const name = d.s3?.credentialsSecretRef.name;
      const object = name === undefined ? undefined : this.opts.secrets.get(`${ns}/${name}`);
      if (name === undefined || object === undefined) return [];
      const data = Object.fromEntries(Object.entries(object.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      return [{ version: object.metadata.resourceVersion ?? '', input: { namespace: ns, name, data } }];
    });
  }

  private destinationStatus(raw: StatusObject, destinations: readonly DestinationReadiness[], gen: number | undefined): NonNullable<DataPolicyStatus['destinations']> {
    const nowIso = isoSeconds(this.now());
    return destinations.map((d) => {
      const existing = raw.status?.destinations?.find((e) => e.name === d.name)?.conditions;
      const desired: DesiredCondition = { type: 'DestinationReady', status: d.ready ? 'True' : 'False', reason: d.reason, message: d.message, ...(gen === undefined ? {} : { observedGeneration: gen }) };
      return { name: d.name, conditions: mergeConditions(existing as Condition[] | undefined, [desired], nowIso) };
    });
  }

  private async sweepTargets(
    policy: DataPolicy,
    raw: StatusObject,
    targets: readonly S3Target[],
    retentionMs: Partial<Record<CaptureStream, number>>,
    state: PolicyState,
  ): Promise<NonNullable<DataPolicyStatus['retention']>> {
    const id = `${policy.metadata.namespace ?? 'default'}/${policy.metadata.name}`;
    const totals: Partial<Record<CaptureStream, StreamSweep>> = {};
    const failures: string[] = [];
    let complete = true;
    for (const target of targets) {
      try {
        const result = await sweep(target.store, { root: target.root, writer: writerTag(id), retentionMs }, this.now(), this.limits);
        complete &&= result.complete;
        for (const f of result.failures) failures.push(`destination ${target.name}: ${f}`);
        for (const stream of CAPTURE_STREAMS) {
          const r = result.streams[stream];
          if (r === undefined) continue;
          const t = (totals[stream] ??= { deletedObjects: 0, deletedBytes: 0 });
          t.deletedObjects += r.deletedObjects;
          t.deletedBytes += r.deletedBytes;
          if (r.oldestKeptMs !== undefined) t.oldestKeptMs = Math.min(t.oldestKeptMs ?? r.oldestKeptMs, r.oldestKeptMs);
        }
      } catch (err) {
        complete = false;
        failures.push(`destination ${target.name}: ${(err as Error).message}`);
      }
    }
    state.incomplete = !complete && failures.length === 0;
    const unchecked = policy.spec.destinations.filter((d) => d.s3 !== undefined && !targets.some((t) => t.name === d.name)).map((d) => d.name);
    const previous = raw.status?.retention;
    const out: NonNullable<DataPolicyStatus['retention']> = { lastSweepTime: isoSeconds(this.now()), complete };
    if (policy.metadata.generation !== undefined) out.observedGeneration = policy.metadata.generation;
    const spec = policy.spec.retention;
    for (const stream of CAPTURE_STREAMS) {
      const t = totals[stream];
      const given = spec?.[stream];
      if (given === undefined) continue;
      const last = previous?.[stream];
      out[stream] = {
        retention: given,
        deletedObjects: t?.deletedObjects ?? 0,
        deletedBytes: t?.deletedBytes ?? 0,
        totalDeletedObjects: (last?.totalDeletedObjects ?? 0) + (t?.deletedObjects ?? 0),
        totalDeletedBytes: (last?.totalDeletedBytes ?? 0) + (t?.deletedBytes ?? 0),
        ...(t?.oldestKeptMs === undefined ? {} : { oldestKept: isoSeconds(t.oldestKeptMs) }),
      };
    }
    const done = CAPTURE_STREAMS.flatMap((s) => (out[s] === undefined ? [] : [`${out[s]?.deletedObjects ?? 0} ${s} objects (${out[s]?.deletedBytes ?? 0} bytes)`]));
    const parts = [`deleted ${done.join(' and ')} from ${targets.length} bucket(s)`];
    if (!complete && failures.length === 0) parts.push('stopped at the per-pass limit; the next sweep continues');
    if (unchecked.length > 0) parts.push(`not swept (destination not ready): ${unchecked.join(', ')}`);
    if (failures.length > 0) parts.push(`failed: ${failures.join('; ')}`);
    out.message = cutWithin(parts.join('; '), 1024);
    const deleted = Object.fromEntries(Object.entries(totals).map(([stream, t]) => [stream, { objects: t.deletedObjects, bytes: t.deletedBytes }]));
    this.opts.onSwept?.(deleted, failures.length > 0 ? 'failed' : complete ? 'complete' : 'partial');
    const error = failures.length > 0 ? failures.join('; ') : undefined;
    if (error !== undefined && error !== state.sweepError) await this.opts.events.record(raw, 'Warning', 'RetentionSweepFailed', error);
    state.sweepError = error;
    this.opts.logger.info({ dataPolicy: id, retention: out }, 'retention sweep');
    return out;
  }

  private async writeStatus(raw: StatusObject, status: DataPolicyStatus): Promise<void> {
    const same = JSON.stringify(raw.status?.destinations) === JSON.stringify(status.destinations) && status.retention === undefined;
    if (same) return;
    const ns = raw.metadata.namespace ?? 'default';
    try {
      await this.opts.client.request('PATCH', `/apis/tollgate.dev/v1alpha1/namespaces/${ns}/datapolicies/${raw.metadata.name}/status`, { status }, 'application/merge-patch+json');
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return;
      throw err;
    }
  }
}

function streamRetention(policy: DataPolicy): Partial<Record<CaptureStream, number>> {
  const r = policy.spec.retention;
  const hasS3 = policy.spec.destinations.some((d) => d.s3 !== undefined);
  if (r === undefined || !hasS3) return {};
  return {
    ...(r.content === undefined ? {} : { content: durationToMs(r.content) }),
    ...(r.metadata === undefined ? {} : { metadata: durationToMs(r.metadata) }),
  };
}

function summary(destinations: readonly DestinationReadiness[], gen: number | undefined): DesiredCondition {
  const base = gen === undefined ? {} : { observedGeneration: gen };
  const failing = destinations.filter((d) => !d.ready);
  const first = failing[0];
  if (first === undefined) return { type: 'DestinationReady', status: 'True', reason: 'AllReady', message: `${destinations.length} destination(s) ready`, ...base };
  return { type: 'DestinationReady', status: 'False', reason: first.reason, message: cutWithin(failing.map((d) => `destination ${d.name}: ${d.message}`).join('; '), 1024), ...base };
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
