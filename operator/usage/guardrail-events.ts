import type { UsageReport } from '../../dataplane/config/usage-report.js';
import type { KubeObject } from '../kube/kube-client.js';

/** Where the tally goes: an Event on the GuardrailPolicy (the operator's EventRecorder). */
export interface DecisionEventSink {
  record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface GuardrailEventsOptions {
  sink: DecisionEventSink;
  /** The GuardrailPolicy objects by namespace/name (the informer cache): only existing policies get Events. */
  policies: () => ReadonlyMap<string, KubeObject>;
  /** One Event per policy per interval at most (default 60 s). */
  intervalMs?: number;
  now?: () => number;
}

/**
 * A pod not heard from for this long is forgotten: resends come within seconds, and every data
 * plane pod start is a new name (kept, each one ever stayed for the operator's life).
 */
export const FORGET_POD_AFTER_MS = 10 * 60_000;

export const GUARDRAIL_DECISIONS_REASON = 'GuardrailDecisions';
const ACTIONS = ['Block', 'Allow', 'Mask', 'Monitor'] as const;
/** Rules named in one Event; the rest are summed. */
const MAX_RULES = 16;

type Counts = Map<string, Record<string, number>>;

/**
 * Aggregated GuardrailPolicy Events from the data planes' usage records: per policy, how often
 * each rule blocked, masked, monitored or failed open during the last interval. Bounded: at most
 * one Event per policy per interval, only when something was decided, names and counts only
 * (records carry no content). A record resent by a pod (same sequence number) is counted once.
 */
export class GuardrailEvents {
  private counts = new Map<string, Counts>();
  /** Per pod: the last sequence number counted, and when it last reported. */
  private readonly lastSeq = new Map<string, { seq: number; seenAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: GuardrailEventsOptions) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Pods whose last sequence number is kept (for tests). */
  get podsTracked(): number {
    return this.lastSeq.size;
  }

  /** Counts the decisions of a report's records that were not counted before. */
  observe(report: UsageReport): void {
    const seen = this.lastSeq.get(report.pod)?.seq ?? 0;
    let last = seen;
    for (const record of report.records) {
      if (record.seq <= seen) continue;
      last = Math.max(last, record.seq);
      for (const d of record.request?.guardrails ?? []) {
        const policy = this.counts.get(d.policy) ?? new Map<string, Record<string, number>>();
        const rule = policy.get(d.rule) ?? {};
        rule[d.action] = (rule[d.action] ?? 0) + 1;
        policy.set(d.rule, rule);
        this.counts.set(d.policy, policy);
      }
    }
    this.lastSeq.set(report.pod, { seq: last, seenAt: this.now() });
  }

  /** Writes one Event per policy with decisions since the last flush. */
  async flush(): Promise<void> {
    const counts = this.counts;
    this.counts = new Map();
    const now = this.now();
    for (const [pod, { seenAt }] of this.lastSeq) if (now - seenAt > FORGET_POD_AFTER_MS) this.lastSeq.delete(pod);
    const policies = this.opts.policies();
    for (const [id, rules] of counts) {
      const object = policies.get(id);
      if (object === undefined) continue;
      const { type, message } = describe(rules, this.intervalMs);
      await this.opts.sink.record(object, type, GUARDRAIL_DECISIONS_REASON, message);
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flush();
  }
}

/** "in the last 60s: no-cards Block×12; mask-mail Mask×3": Warning when a rule blocked or failed open. */
function describe(rules: Map<string, Record<string, number>>, intervalMs: number): { type: 'Normal' | 'Warning'; message: string } {
  let warning = false;
  const parts: string[] = [];
  const sorted = [...rules.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [rule, byAction] of sorted.slice(0, MAX_RULES)) {
    const actions = ACTIONS.filter((a) => (byAction[a] ?? 0) > 0).map((a) => `${a}×${byAction[a]}`);
    if ((byAction.Block ?? 0) > 0 || (byAction.Allow ?? 0) > 0) warning = true;
    parts.push(`${rule} ${actions.join(' ')}`);
  }
  if (sorted.length > MAX_RULES) parts.push(`${sorted.length - MAX_RULES} more rules`);
  const seconds = Math.round(intervalMs / 1000);
  return { type: warning ? 'Warning' : 'Normal', message: `decisions in the last ${seconds}s (Allow: a check failed open): ${parts.join('; ')}` };
}
