import type { Logger } from 'pino';
import type { z } from 'zod';
import { BudgetSchema, type Budget } from '../api/budget.js';
import { DataPolicySchema, type DataPolicy } from '../api/data-policy.js';
import { GuardrailPolicySchema, type GuardrailPolicy } from '../api/guardrail-policy.js';
import type { Condition, SpecHistory } from '../api/common.js';
import { ModelRouteSchema, type ModelRoute } from '../api/model-route.js';
import { ProviderSchema, type Provider } from '../api/provider.js';
import { compileSteps } from '../compile/compile.js';
import { DEFAULT_SLICES, runSliced, type SliceOptions } from '../../dataplane/config/sliced.js';
import { wireBodiesSteps } from '../../dataplane/config/snapshot-lines.js';
import type { CompileInput, CompileResult, ObjectKind, ObjectStatus } from '../compile/types.js';
import type { Distributor } from '../distribute/distributor.js';
import type { EventRecorder } from '../kube/event-recorder.js';
import { KubeError, type KubeClient, type KubeObject } from '../kube/kube-client.js';
import { dataplaneEndpoints, resolveServiceEndpoints, serviceRefsOf } from './endpoints.js';
import type { EndpointSliceObject, SecretObject, ServiceObject } from './kube-types.js';
import { specWrittenAt, withSpecChange } from './spec-history.js';
import { type DesiredCondition, mergeConditions, sameConditions } from './status-conditions.js';
import { StatusWriter } from './status-writer.js';
import { foreignConditions } from '../budgets/shared-condition.js';
import { egressCompileInput } from '../../dataplane/config/egress-guard.js';
import { MAX_GENERATION_AHEAD_MS } from '../../dataplane/config/snapshot-envelope.js';

export interface Caches {
  providers: Map<string, KubeObject>;
  routes: Map<string, KubeObject>;
  budgets: Map<string, KubeObject>;
  dataPolicies: Map<string, KubeObject>;
  guardrails: Map<string, KubeObject>;
  secrets: Map<string, SecretObject>;
  namespaces: Map<string, KubeObject>;
  services: Map<string, ServiceObject>;
  slices: Map<string, EndpointSliceObject>;
}

export interface ReconcilerOptions {
  client: Pick<KubeClient, 'request'>;
  caches: Caches;
  distributor: Pick<Distributor, 'setEndpoints' | 'publish' | 'settled' | 'progress'>;
  events: Pick<EventRecorder, 'record'>;
  logger: Logger;
  dataplane: { namespace: string; service: string; adminPortName: string };
  now?: () => number;
  /** The installation's key for client API key HMACs (compile drops API keys without it). */
  apiKeyHashKey?: () => string | undefined;
  /** The leader's term (from the Lease), put into every snapshot: pods refuse a lower one. Absent: 0. */
  term?: () => number;
  /** Conditions other components own (e.g. a Budget's ThresholdReached), written with the rest. */
  extraConditions?: (status: ObjectStatus) => DesiredCondition[];
  /** The bytes snapshots are kept within (compile's default when absent); tests set it low. */
  snapshotBudgetBytes?: number;
  /** How the compile and the serialisation give the loop back between slices; tests pass a hook. */
  slices?: SliceOptions;
  /** Status writes in flight at once (default 8). */
  statusWriteConcurrency?: number;
  /**
   * This installation's name (`<release namespace>/<Lease name>`), written into every status it
   * writes. An object whose status names another installation (two installations watching one
   * namespace) is left alone: an OwnedByAnotherInstallation Event instead of a status tug-of-war.
   */
  installation?: string;
  /**
   * Status writes that failed (after every other was tried), with the first failure: the caller
   * reconciles again later, which hands the failed writes over again.
   */
  onStatusWriteFailed?: (err: unknown) => void;
}

/** One object's status as a reconcile computed it; merged with what the object holds when written. */
interface StatusJob {
  status: ObjectStatus;
  desired: DesiredCondition[];
}

/**
 * How long the owner of a copied API key is not told the same thing again once the copy is gone:
 * the copy's holder (another tenant) decides when it comes and goes, and would otherwise write an
 * Event into the owner's namespace at every reconcile. An hour is an Event's default lifetime, so
 * the last one is still there to read meanwhile.
 */
const COPIED_KEY_WARNING_HOLD_MS = 60 * 60 * 1000;

const PLURAL: Record<ObjectKind, string> = { Provider: 'providers', ModelRoute: 'modelroutes', Budget: 'budgets', DataPolicy: 'datapolicies', GuardrailPolicy: 'guardrailpolicies' };

interface StatusBody {
  installation?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  endpoints?: number;
  specHistory?: SpecHistory;
}

/** Kinds whose spec changes are kept in status.specHistory (the console's before/after marks). */
const HISTORY_KINDS: ReadonlySet<ObjectKind> = new Set(['Provider', 'ModelRoute']);

type Parsed<T> = { objects: T[]; invalid: ObjectStatus[] };

function parseAll<T>(kind: ObjectKind, cache: Map<string, KubeObject>, schema: z.ZodType<T>): Parsed<T> {
  const objects: T[] = [];
  const invalid: ObjectStatus[] = [];
  for (const raw of cache.values()) {
    const parsed = schema.safeParse(raw);
    if (parsed.success) {
      objects.push(parsed.data);
      continue;
    }
    const issue = parsed.error.issues[0];
    const gen = raw.metadata.generation;
    const message = `invalid spec: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`;
    const status: ObjectStatus = {
      kind,
      namespace: raw.metadata.namespace ?? 'default',
      name: raw.metadata.name,
      conditions: [{ type: 'Accepted', status: 'False', reason: 'Invalid', message, ...(gen === undefined ? {} : { observedGeneration: gen }) }],
    };
    if (gen !== undefined) status.generation = gen;
    invalid.push(status);
  }
  return { objects, invalid };
}

const statusKey = (status: ObjectStatus): string => `${status.kind}/${status.namespace}/${status.name}`;

type SecretInput = CompileInput['secrets'][number];

/**
 * Decoded Secrets by the cached object: the informer replaces an object when it changes, so each
 * Secret is decoded once per version, not on every reconcile (a cluster's Secrets, every 500 ms).
 */
const decoded = new WeakMap<SecretObject, SecretInput>();

function decodeSecrets(cache: Map<string, SecretObject>): CompileInput['secrets'] {
  return [...cache.values()].map((s) => {
    let input = decoded.get(s);
    if (input === undefined) {
      input = {
        namespace: s.metadata.namespace ?? 'default',
        name: s.metadata.name,
        labels: s.metadata.labels ?? {},
        ...(s.metadata.creationTimestamp === undefined ? {} : { createdAt: s.metadata.creationTimestamp }),
        data: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])),
      };
      decoded.set(s, input);
    }
    return input;
  });
}

/**
 * One global reconcile: everything the informers hold → compile → publish to the data planes →
 * write status (only what changed) and Events (only on transitions). Level-based: it never looks
 * at what event caused it.
 */
export class Reconciler {
  private generation = 0;
  private lastVersion: string | undefined;
  private lastTerm: number | undefined;
  /** Per object: the snapshot generation that first carried its current metadata.generation. */
  private readonly programmedAt = new Map<string, { objectGeneration: number; snapshotGeneration: number }>();
  private readonly now: () => number;
  private readonly slices: SliceOptions;
  /** API key Secrets warned of being left out of the snapshot, with the message they were told. */
  private readonly warnedApiKeys = new Map<string, string>();
  /** Secrets that keep a key other Secrets copied: per message they were told, when (COPIED_KEY_WARNING_HOLD_MS). */
  private readonly warnedKeepers = new Map<string, Map<string, number>>();
  /** The version of the last snapshot too large to publish (logged once). */
  private oversizeVersion: string | undefined;
  /**
   * Per object, the status last written and the cached object it was written over. Until the watch
   * brings the written object back, the cache holds the one before it, and comparing with that would
   * write the same status again.
   */
  private readonly written = new Map<string, { object: KubeObject; status: StatusBody }>();
  /** Objects another installation writes the status of, with that installation (told once per claimant). */
  private readonly foreignClaims = new Map<string, string>();
  private readonly writer: StatusWriter<StatusJob>;
  /** Whether this replica leads now; the last reconcile's, checked before every status write. */
  private isLeader: () => boolean = () => false;
  statusWrites = 0;
  compiles = 0;

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? Date.now;
    this.slices = opts.slices ?? DEFAULT_SLICES;
    this.writer = new StatusWriter<StatusJob>({
      ...(opts.statusWriteConcurrency === undefined ? {} : { concurrency: opts.statusWriteConcurrency }),
      write: (key, job) => this.writeStatus(key, job),
      canWrite: () => this.isLeader(),
      ...(opts.onStatusWriteFailed === undefined ? {} : { onFailed: opts.onStatusWriteFailed }),
    });
  }

  /** Resolves once every status handed over is written; throws the first write that failed. */
  async statusesWritten(): Promise<void> {
    const failure = await this.writer.idle();
    if (failure !== undefined) throw failure.err;
  }

  /** Status writes waiting for a slot. */
  get pendingStatusWrites(): number {
    return this.writer.pendingCount;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * A pod refused our snapshot as stale (409) and serves (generation, term). Publishing above it is
   * right only for a leader whose term is not below the pod's: a pod serving a higher term means
   * another replica has led since we took the Lease (we are deposed), and publishing above it would
   * undo its snapshot (pods refuse it anyway; the caller re-reads the Lease). A pod from before
   * terms answers none: only the generation can be compared.
   */
  staleAnswer(pod: { generation: number; term?: number }, leader: boolean): 'publish-above' | 'deposed' | 'not-leader' | 'out-of-range' {
    if (!leader) return 'not-leader';
    if (pod.term !== undefined && pod.term > (this.opts.term?.() ?? 0)) return 'deposed';
    return this.bumpPast(pod.generation) ? 'publish-above' : 'out-of-range';
  }

  /**
   * A data plane serves a newer generation (an earlier leader's): publish above it. Not above a
   * generation more than a day ahead of our clock (pods refuse those: generations are millisecond
   * timestamps), which also keeps every generation a safe integer; false when refused.
   */
  bumpPast(generation: number): boolean {
    if (!Number.isSafeInteger(generation) || generation + 1 > this.now() + MAX_GENERATION_AHEAD_MS) return false;
    if (generation >= this.generation) {
      this.generation = generation;
      this.lastVersion = undefined;
    }
    return true;
  }

  buildInput(): { input: CompileInput; invalid: ObjectStatus[] } {
    const c = this.opts.caches;
    const providers = parseAll<Provider>('Provider', c.providers, ProviderSchema);
    const routes = parseAll<ModelRoute>('ModelRoute', c.routes, ModelRouteSchema);
    const budgets = parseAll<Budget>('Budget', c.budgets, BudgetSchema);
    const dataPolicies = parseAll<DataPolicy>('DataPolicy', c.dataPolicies, DataPolicySchema);
    const guardrails = parseAll<GuardrailPolicy>('GuardrailPolicy', c.guardrails, GuardrailPolicySchema);
    const input: CompileInput = {
      providers: providers.objects,
      routes: routes.objects,
      budgets: budgets.objects,
      dataPolicies: dataPolicies.objects,
      guardrails: guardrails.objects,
      secrets: decodeSecrets(c.secrets),
      namespaces: [...c.namespaces.values()].map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} })),
      endpoints: resolveServiceEndpoints(serviceRefsOf(providers.objects, guardrails.objects), c.services, c.slices.values()),
      // Budgets in the installation's namespace may cap any namespace; a tenant's only its own.
      platformNamespaces: [this.opts.dataplane.namespace],
      ...egressCompileInput(),
    };
    const hashKey = this.opts.apiKeyHashKey?.();
    if (hashKey !== undefined) input.apiKeyHashKey = hashKey;
    return { input, invalid: [...providers.invalid, ...routes.invalid, ...budgets.invalid, ...dataPolicies.invalid, ...guardrails.invalid] };
  }

  /**
   * `isLeader` is asked again before every status write: a replica that stops leading while writes
   * are pending writes none of them (a boolean taken at the start kept a deposed replica writing).
   */
  async reconcile(isLeader: () => boolean): Promise<void> {
    const { dataplane } = this.opts;
    this.opts.distributor.setEndpoints(dataplaneEndpoints(this.opts.caches.slices.values(), dataplane.namespace, dataplane.service, dataplane.adminPortName));
    this.isLeader = isLeader;
    if (!isLeader()) {
      this.writer.clear();
      return;
    }
    const { input, invalid } = this.buildInput();
    if (this.opts.snapshotBudgetBytes !== undefined) input.snapshotBudgetBytes = this.opts.snapshotBudgetBytes;
    // In slices (compileSteps): in one piece, 5,000 routes held this loop 0.4–1.0 s, the loop that
    // renews the Lease (within 10 s) and answers pods' pulls and probes.
    const { snapshot, statuses, leftOutApiKeys, copiedApiKeys, oversize } = await runSliced(compileSteps(input), this.slices);
    // Leadership may have gone while it ran: a deposed replica publishes nothing.
    if (!isLeader()) return;
    this.compiles++;
    await this.warnLeftOutApiKeys(leftOutApiKeys ?? []);
    await this.warnCopiedApiKeys(copiedApiKeys ?? []);
    // Every pod would refuse it: they keep the snapshot they serve (what changed stays Pending).
    if (oversize !== undefined && snapshot.version !== this.oversizeVersion) this.opts.logger.error({ version: snapshot.version }, `snapshot not published: ${oversize}`);
    this.oversizeVersion = oversize === undefined ? undefined : snapshot.version;
    const term = this.opts.term?.() ?? 0;
    // A new term (this replica took the Lease again) is published even with the same content: pods
    // that served a successor's term refuse everything of our older one.
    if (oversize === undefined && (snapshot.version !== this.lastVersion || term !== this.lastTerm)) {
      const next = Math.max(this.now(), this.generation + 1);
      if (!Number.isSafeInteger(next)) throw new Error(`generation ${next} is beyond the largest safe integer; not published`);
      this.generation = next;
      this.lastVersion = snapshot.version;
      this.lastTerm = term;
      const envelope = { generation: this.generation, term, snapshot };
      // Both wire forms serialised in slices too (one JSON.stringify of 5,000 routes: ~100 ms).
      const bodies = await runSliced(wireBodiesSteps(envelope), this.slices);
      this.opts.distributor.publish(envelope, bodies);
      this.opts.logger.info({ generation: this.generation, term, version: snapshot.version, routes: snapshot.routes.length }, 'snapshot published');
    }
    // Programmed depends on what the pods serve; write statuses once each pod has answered a push.
    // Handed to the writer, not awaited: the next change is compiled and published meanwhile.
    if (this.opts.distributor.settled()) this.handOverStatuses([...statuses, ...invalid]);
  }

  private programmed(status: ObjectStatus): DesiredCondition {
    const gen = status.generation;
    const base = gen === undefined ? {} : { observedGeneration: gen };
    const refused = status.conditions.find((c) => c.type === 'Accepted' && c.status === 'False');
    if (refused !== undefined) {
      // Same reason as Accepted: a route that lost a conflict is not invalid.
      return { type: 'Programmed', status: 'False', reason: refused.reason, message: `not programmed: the object is not accepted (${refused.reason})`, ...base };
    }
    const key = statusKey(status);
    const seen = this.programmedAt.get(key);
    if (seen === undefined || seen.objectGeneration !== (gen ?? 0)) {
      // A snapshot too large to publish carries nothing: the next published one will.
      const snapshotGeneration = this.oversizeVersion === undefined ? this.generation : this.generation + 1;
      this.programmedAt.set(key, { objectGeneration: gen ?? 0, snapshotGeneration });
    }
    const target = this.programmedAt.get(key)?.snapshotGeneration ?? this.generation;
    if (target > this.generation) {
      return {
        type: 'Programmed',
        status: 'False',
        reason: 'SnapshotTooLarge',
        message: 'not programmed: the configuration snapshot is too large to publish and the data planes keep serving the one they have (operator log: snapshot not published)',
        ...base,
      };
    }
    const { ready, acked } = this.opts.distributor.progress(target);
    // No pod count in a message: a changed message is a status write, and counts in messages made
    // every scale or readiness change rewrite every object's status (1,000 PATCHes a pod added).
    // The snapshot generation changes only with the object's own generation; counts are in
    // tollgate_operator_dataplanes.
    if (ready === 0) return { type: 'Programmed', status: 'False', reason: 'NoDataPlanes', message: 'no ready data-plane pods to program', ...base };
    if (acked < ready) {
      return { type: 'Programmed', status: 'False', reason: 'Pending', message: `published in snapshot generation ${target}; not every ready data-plane pod serves it yet`, ...base };
    }
    return { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'every ready data-plane pod serves it', ...base };
  }

  /** Events on transitions only, one per reason (Programmed repeats Accepted's reason; one Event says it). */
  private async recordEvents(object: KubeObject, existing: readonly Condition[] | undefined, desired: readonly DesiredCondition[]): Promise<void> {
    const recorded = new Set<string>();
    for (const c of desired) {
      const previous = existing?.find((p) => p.type === c.type);
      let event: { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined;
      if (c.event !== undefined) {
        const changed = previous === undefined ? c.status === 'True' : previous.reason !== c.reason;
        if (changed) event = c.event;
      } else {
        const flipped = previous === undefined || previous.status !== c.status;
        if (flipped && c.status === 'False' && c.reason !== 'Pending' && c.reason !== 'NoDataPlanes') event = { type: 'Warning', reason: c.reason, message: c.message };
      }
      if (event === undefined || recorded.has(event.reason)) continue;
      recorded.add(event.reason);
      await this.opts.events.record(object, event.type, event.reason, event.message);
    }
  }

  /**
   * A Secret has no status: an API key left out of the snapshot gets a Warning Event on its Secret,
   * once each time it is left out (or for another reason), and the operator logs it.
   */
  private async warnLeftOutApiKeys(keys: NonNullable<CompileResult['leftOutApiKeys']>): Promise<void> {
    const now = new Map(keys.map((k) => [`${k.namespace}/${k.name}`, k]));
    for (const key of this.warnedApiKeys.keys()) if (!now.has(key)) this.warnedApiKeys.delete(key);
    for (const [key, { reason, message }] of now) {
      const said = `${reason}: ${message}`;
      if (this.warnedApiKeys.get(key) === said) continue;
      this.warnedApiKeys.set(key, said);
      this.opts.logger.warn({ secret: key, reason }, `API key ${message}`);
      const secret = this.opts.caches.secrets.get(key);
      // A listed object carries no apiVersion and kind; the Event's involvedObject needs them.
      if (secret !== undefined) await this.opts.events.record({ ...secret, apiVersion: 'v1', kind: 'Secret' }, 'Warning', reason, `API key ${message}`);
    }
  }

  /**
   * The Secret that keeps a copied key gets a Warning Event too (its owner learns that someone else
   * has the key), once while the copies stay as they are, and the same message no more than once an
   * hour however often a copy in another namespace comes and goes. The log names every copy; the
   * Event only those in the owner's own namespace (compile-api-keys.ts says why).
   */
  private async warnCopiedApiKeys(keys: NonNullable<CompileResult['copiedApiKeys']>): Promise<void> {
    const now = this.now();
    const current = new Map(keys.map((k) => [`${k.namespace}/${k.name}`, k]));
    for (const [key, said] of this.warnedKeepers) {
      const saying = current.get(key)?.message;
      for (const [message, at] of said) if (message !== saying && now - at >= COPIED_KEY_WARNING_HOLD_MS) said.delete(message);
      if (said.size === 0) this.warnedKeepers.delete(key);
    }
    for (const [key, { reason, message, copies }] of current) {
      let said = this.warnedKeepers.get(key);
      if (said?.has(message) === true) continue;
      if (said === undefined) this.warnedKeepers.set(key, (said = new Map()));
      said.set(message, now);
      this.opts.logger.warn({ secret: key, reason, copies }, `API key ${message}`);
      const secret = this.opts.caches.secrets.get(key);
      if (secret !== undefined) await this.opts.events.record({ ...secret, apiVersion: 'v1', kind: 'Secret' }, 'Warning', reason, `API key ${message}`);
    }
  }

  private cacheFor(kind: ObjectKind): Map<string, KubeObject> {
    const c = this.opts.caches;
    return kind === 'Provider' ? c.providers : kind === 'ModelRoute' ? c.routes : kind === 'Budget' ? c.budgets : kind === 'DataPolicy' ? c.dataPolicies : c.guardrails;
  }

  /**
   * Whether another installation writes this object's status (its status names it): then this one
   * leaves it alone and says so once per claimant with a Warning Event on the object and a log line.
   * The first installation to write keeps the object; clearing status.installation hands it over.
   */
  private claimedElsewhere(key: string, object: KubeObject): boolean {
    const own = this.opts.installation;
    const claimant = (object as KubeObject & { status?: StatusBody }).status?.installation;
    if (own === undefined || claimant === undefined || claimant === '' || claimant === own) {
      this.foreignClaims.delete(key);
      return false;
    }
    if (this.foreignClaims.get(key) !== claimant) {
      this.foreignClaims.set(key, claimant);
      const message = `the installation ${claimant} writes this object's status; ${own} also watches this namespace and serves the object but leaves its status alone`;
      this.opts.logger.warn({ object: key, claimant, installation: own }, 'object claimed by another installation: status not written');
      void this.opts.events.record(object, 'Warning', 'OwnedByAnotherInstallation', message).catch(() => undefined);
    }
    return true;
  }

  /** What the object's status is: the last write when the watch has not brought it back yet. */
  private existingStatus(key: string, object: KubeObject): StatusBody | undefined {
    const written = this.written.get(key);
    if (written !== undefined && written.object === object) return written.status;
    return (object as KubeObject & { status?: StatusBody }).status;
  }

  /** The status to write over `existing`; undefined when it holds that already. */
  private statusBody(status: ObjectStatus, desired: readonly DesiredCondition[], object: KubeObject, existing: StatusBody | undefined): StatusBody | undefined {
    const nowIso = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    // Another installation's SharedWithAnotherInstallation is kept: dropped, each write of ours took
    // it off the Budget and each pass of theirs put it back.
    const conditions = [...mergeConditions(existing?.conditions, desired, nowIso), ...foreignConditions(existing?.conditions, this.opts.installation)];
    const body: StatusBody = { conditions };
    if (this.opts.installation !== undefined) body.installation = this.opts.installation;
    if (status.generation !== undefined) body.observedGeneration = status.generation;
    if (status.endpoints !== undefined) body.endpoints = status.endpoints;
    const history = HISTORY_KINDS.has(status.kind) ? withSpecChange(existing?.specHistory, status.generation, specWrittenAt(object) ?? nowIso) : undefined;
    if (history !== undefined) body.specHistory = history;
    const unchanged =
      sameConditions(existing?.conditions, conditions) &&
      // A status without one gets it with its next change, not a write of its own: with CRDs older
      // than the operator the API server drops the field, and every reconcile would write it again.
      (existing?.installation === undefined || existing.installation === body.installation) &&
      existing?.observedGeneration === body.observedGeneration &&
      existing?.endpoints === body.endpoints &&
      history === existing?.specHistory;
    return unchanged ? undefined : body;
  }

  /**
   * Every object whose status differs from what it should be goes to the writer, which drops what
   * an earlier reconcile left pending for the others (now right, or deleted).
   */
  private handOverStatuses(statuses: ObjectStatus[]): void {
    const live = new Set(statuses.map(statusKey));
    for (const key of this.programmedAt.keys()) if (!live.has(key)) this.programmedAt.delete(key);
    for (const key of this.written.keys()) if (!live.has(key)) this.written.delete(key);
    for (const key of this.foreignClaims.keys()) if (!live.has(key)) this.foreignClaims.delete(key);
    const jobs = new Map<string, StatusJob>();
    for (const status of statuses) {
      const key = statusKey(status);
      const object = this.cacheFor(status.kind).get(`${status.namespace}/${status.name}`);
      if (object === undefined) continue;
      if (this.claimedElsewhere(key, object)) continue;
      const desired: DesiredCondition[] = [...status.conditions, this.programmed(status), ...(this.opts.extraConditions?.(status) ?? [])];
      if (this.statusBody(status, desired, object, this.existingStatus(key, object)) === undefined) continue;
      jobs.set(key, { status, desired });
    }
    this.writer.replace(jobs);
  }

  /**
   * One object's write, merged with what the object holds now. A refused write (an admission
   * webhook, an object at etcd's size limit) holds back no other object's: the writer tries every
   * one and reports the first failure once all were tried, and the reconcile is retried.
   */
  private async writeStatus(key: string, { status, desired }: StatusJob): Promise<void> {
    const object = this.cacheFor(status.kind).get(`${status.namespace}/${status.name}`);
    if (object === undefined) return;
    if (this.claimedElsewhere(key, object)) return;
    const existing = this.existingStatus(key, object);
    const body = this.statusBody(status, desired, object, existing);
    if (body === undefined) return;
    try {
      await this.opts.client.request(
        'PATCH',
        `/apis/tollgate.dev/v1alpha1/namespaces/${status.namespace}/${PLURAL[status.kind]}/${status.name}/status`,
        { status: body },
        'application/merge-patch+json',
      );
      this.statusWrites++;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return;
      this.opts.logger.warn({ object: key, err: (err as Error).message }, 'status write failed');
      throw err;
    }
    // Only if the watch has not already brought a newer object (then the cache is right).
    if (this.cacheFor(status.kind).get(`${status.namespace}/${status.name}`) === object) this.written.set(key, { object, status: { ...existing, ...body } });
    await this.recordEvents(object, existing?.conditions, desired);
  }
}
