import { timingSafeEqual } from 'node:crypto';
import type { RequestUsage } from '../dataplane/config/request-usage.js';
import type { ViewerReader } from '../operator/console/console-routes.js';
import type { CompileInput } from '../operator/compile/types.js';
import { dayOf, UsageDay } from '../operator/usage/usage-day.js';

const KIND_PATH = /^\/apis\/tollgate\.dev\/v1alpha1(?:\/namespaces\/([^/]+))?\/(providers|modelroutes|budgets|usagereports)(?:\/([^/?]+))?(?:\?.*)?$/;
const EVENTS_PATH = /^\/api\/v1(?:\/namespaces\/[^/]+)?\/events(?:\?.*)?$/;
const DAYS_KEPT = 30;

interface Named {
  metadata: { name: string; namespace?: string };
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `tollgate dev`'s stand-in for the Kubernetes API behind the console: the usage history of this
 * process (the same UsageReport objects the operator writes, kept in memory) and the manifests it
 * serves. The viewer's token is the admin token; there are no Events.
 */
export class DevConsole implements ViewerReader {
  private readonly days = new Map<string, UsageDay>();
  private seq = 0;
  private input: CompileInput | undefined;

  constructor(private readonly adminToken: string) {}

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

  /** The manifests as last loaded. */
  loaded(input: CompileInput): void {
    this.input = input;
  }

  async getAs(path: string, token: string): Promise<{ status: number; body: string }> {
    if (!sameToken(token, this.adminToken)) return { status: 401, body: JSON.stringify({ kind: 'Status', status: 'Failure', message: 'the token is not the admin token of this tollgate dev', code: 401 }) };
    if (EVENTS_PATH.test(path)) return { status: 200, body: JSON.stringify({ kind: 'EventList', items: [] }) };
    const m = KIND_PATH.exec(path);
    if (m === null) return { status: 404, body: JSON.stringify({ kind: 'Status', status: 'Failure', message: 'not found', code: 404 }) };
    const [, namespace, kind, name] = m;
    const items = this.objects(kind ?? '').filter((o) => (namespace === undefined || (o.metadata.namespace ?? 'default') === namespace) && (name === undefined || o.metadata.name === name));
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
      return [...this.days.values()].map((d) => ({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'UsageReport', metadata: { name: d.date, namespace: d.namespace }, status: d.toStatus(10, now) }));
    }
    const input = this.input;
    if (input === undefined) return [];
    if (kind === 'providers') return withNamespace(input.providers);
    if (kind === 'modelroutes') return withNamespace(input.routes);
    return withNamespace(input.budgets);
  }
}
