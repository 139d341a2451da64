import { tokenMatches } from '../dataplane/config/channel-token.js';
import type { RequestUsage } from '../dataplane/config/request-usage.js';
import type { Budget } from '../operator/api/budget.js';
import type { SpecHistory } from '../operator/api/common.js';
import type { ViewerReader } from '../operator/console/console-routes.js';
import { METADATA_LIST, METADATA_ONE } from '../operator/kube/kube-client.js';
import type { CompileInput } from '../operator/compile/types.js';
import { withSpecChange } from '../operator/controller/spec-history.js';
import { DAY_SUMMARY_ANNOTATION, daySummary } from '../operator/usage/day-summary.js';
import { dayOf, UsageDay } from '../operator/usage/usage-day.js';

const KIND_PATH = /^\/apis\/tollgate\.dev\/v1alpha1(?:\/namespaces\/([^/]+))?\/(providers|modelroutes|budgets|usagereports)(?:\/([^/?]+))?(?:\?.*)?$/;
const EVENTS_PATH = /^\/api\/v1(?:\/namespaces\/[^/]+)?\/events(?:\?.*)?$/;
const DAYS_KEPT = 30;

interface Named {
  metadata: { name: string; namespace?: string };
}

/** A Provider's or ModelRoute's spec as last loaded, with the generations it went through. */
interface SpecState {
  spec: string;
  generation: number;
  history: SpecHistory;
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

// Compared as digests (channel-token.ts): a length check first would tell a guesser the token's length.
function sameToken(presented: string, adminToken: string): boolean {
  return tokenMatches(`Bearer ${presented}`, adminToken);
}

/** A Budget's status as the operator would write it, from what this process spent (`namespace/name`). */
export type BudgetStatusOf = (id: string, nowMs: number) => Budget['status'];

/**
 * `tollgate dev`'s stand-in for the Kubernetes API behind the console: the usage history of this
 * process (the same UsageReport objects the operator writes, kept in memory), the manifests it
 * serves, and its Budgets with the spend it enforces. The viewer's token is the admin token; there
 * are no Events.
 */
export class DevConsole implements ViewerReader {
  private readonly days = new Map<string, UsageDay>();
  private seq = 0;
  private input: CompileInput | undefined;
  /** `<kind>/<namespace>/<name>` → spec state. */
  private readonly specs = new Map<string, SpecState>();

  constructor(
    private readonly adminToken: string,
    private readonly budgetStatus?: BudgetStatusOf,
  ) {}

  /** Every finished request of this process. */
  readonly record = (request: RequestUsage, costUsd: number): void => {
    const now = Date.now();
    const key = `${request.namespace}/${dayOf(now)}`;
    let day = this.days.get(key);
    if (day === undefined) {
      day = new UsageDay(request.namespace, dayOf(now));
      this.days.set(key, day);
      const oldest = dayOf(now - DAYS_KEPT * 86_400_000);
      for (const [k, d] of this.days) if (d.date < oldest) this.days.delete(k);
    }
    day.add('dev', ++this.seq, now, request, costUsd);
  };

  /**
   * The manifests as last loaded. A Provider or ModelRoute whose spec changed gets the next
   * generation and a status.specHistory entry, as the API server and the operator give them in a
   * cluster, so that the console's before/after marks the change; a deleted file starts over at 1.
   */
  loaded(input: CompileInput, nowMs: number = Date.now()): void {
    this.input = input;
    const live = new Set<string>();
    for (const [kind, list] of [['Provider', input.providers], ['ModelRoute', input.routes]] as const) {
      for (const o of list) {
        const key = `${kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
        live.add(key);
        const spec = JSON.stringify(o.spec);
        const previous = this.specs.get(key);
        if (previous?.spec === spec) continue;
        const generation = (previous?.generation ?? 0) + 1;
        this.specs.set(key, { spec, generation, history: withSpecChange(previous?.history, generation, isoSeconds(nowMs)) ?? [] });
      }
    }
    for (const key of this.specs.keys()) if (!live.has(key)) this.specs.delete(key);
  }

  async streamAs(path: string, token: string, accept?: string): Promise<{ status: number; body: string }> {
    if (!sameToken(token, this.adminToken)) return { status: 401, body: JSON.stringify({ kind: 'Status', status: 'Failure', message: 'the token is not the admin token of this tollgate dev', code: 401 }) };
    if (EVENTS_PATH.test(path)) return { status: 200, body: JSON.stringify({ kind: 'EventList', items: [] }) };
    const m = KIND_PATH.exec(path);
    if (m === null) return { status: 404, body: JSON.stringify({ kind: 'Status', status: 'Failure', message: 'not found', code: 404 }) };
    const [, namespace, kind, name] = m;
    const metadataOnly = accept === METADATA_LIST || accept === METADATA_ONE;
    const items = this.objects(kind ?? '')
      .map((o) => (metadataOnly ? { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: o.metadata } : o))
      .filter((o) => (namespace === undefined || (o.metadata.namespace ?? 'default') === namespace) && (name === undefined || o.metadata.name === name));
    if (name !== undefined) {
      const item = items[0];
      return item === undefined ? { status: 404, body: JSON.stringify({ kind: 'Status', status: 'Failure', message: `${kind} ${name} not found`, code: 404 }) } : { status: 200, body: JSON.stringify(item) };
    }
    return { status: 200, body: JSON.stringify({ kind: 'List', items }) };
  }

  private objects(kind: string): Named[] {
    const withNamespace = <T extends Named>(list: readonly T[]): T[] => list.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? 'default' } }));
    if (kind === 'usagereports') {
      const now = Date.now();
      return [...this.days.values()].map((d) => {
        const status = d.toStatus(10, now);
        return { apiVersion: 'tollgate.dev/v1alpha1', kind: 'UsageReport', metadata: { name: d.date, namespace: d.namespace, annotations: { [DAY_SUMMARY_ANNOTATION]: JSON.stringify(daySummary(status)) } }, status };
      });
    }
    const input = this.input;
    if (input === undefined) return [];
    if (kind === 'providers') return this.withHistory('Provider', withNamespace(input.providers));
    if (kind === 'modelroutes') return this.withHistory('ModelRoute', withNamespace(input.routes));
    const now = Date.now();
    return withNamespace(input.budgets).map((b) => {
      const status = this.budgetStatus?.(`${b.metadata.namespace}/${b.metadata.name}`, now);
      return status === undefined ? b : { ...b, status };
    });
  }

  private withHistory(kind: 'Provider' | 'ModelRoute', list: Named[]): Named[] {
    return list.map((o) => {
      const state = this.specs.get(`${kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
      return state === undefined ? o : { ...o, metadata: { ...o.metadata, generation: state.generation }, status: { specHistory: state.history } };
    });
  }
}
