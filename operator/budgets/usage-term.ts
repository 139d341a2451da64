import { randomBytes } from 'node:crypto';
import type { UsageReport } from '../../dataplane/config/usage-report.js';
import { leastWorth } from './reporting-pods.js';

/** A pod not heard from for this long is forgotten: its next report starts again from its durable point. */
const FORGET_AFTER_MS = 10 * 60_000;

/**
 * Pods one term keeps at most. Each report under a new name added one for 10 minutes: anyone
 * holding the report token could grow the leader's memory by a few hundred bytes a report, with no
 * bound but the rate. A pod forgotten only resends what is not persisted, once.
 */
export const MAX_TERM_PODS = 10_000;

/** What one term has of one pod. */
interface PodWindow {
  through: number;
  seenAt: number;
}

/** The term a report was admitted in: its answer names it, and counts only while the term holds. */
export interface Admission {
  readonly epoch: string;
  readonly pods: Map<string, PodWindow>;
}

/**
 * The leader's usage intake term. Within one term a pod sends each record once (the send window,
 * dataplane/governance/budget/usage-outbox.ts); the term remembers, per pod, through which sequence
 * number it has every record, counted in memory or already persisted. Whatever throws counted but
 * unpersisted records away (losing or winning leadership, a failed history write) starts a new
 * term: pods see the new epoch in the next answer and send everything not persisted again.
 */
export class UsageTerm {
  private current!: Admission;
  private count = 0;
  private sweptAt = 0;

  constructor(
    private readonly identity: string,
    private readonly now: () => number = Date.now,
    /** How much a pod is worth keeping past MAX_TERM_PODS (ReportingPods.rank): the lowest go first. Absent: all alike. */
    private readonly rank?: (pod: string) => number,
  ) {
    this.begin();
  }

  get epoch(): string {
    return this.current.epoch;
  }

  /** A new term: every pod's next report is answered with the new epoch and resends what is not persisted. */
  begin(): void {
    this.current = { epoch: `${this.identity}/${randomBytes(4).toString('hex')}/${++this.count}`, pods: new Map() };
  }

  /**
   * The term a windowed report continues, or undefined when it does not: it refers to another term
   * (or this term forgot the pod) and does not start at the pod's durable point, so records between
   * may be missing here. Such a report is not counted; its answer sends the pod back to its durable point.
   */
  admit(report: UsageReport): Admission | undefined {
    const window = report.window;
    if (window === undefined) return undefined;
    this.forgetIdle();
    const term = this.current;
    const known = window.epoch === term.epoch ? term.pods.get(report.pod) : undefined;
    if (window.after <= window.durable || (known !== undefined && known.through >= window.after)) return term;
    return undefined;
  }

  /** After counting records through `last`: through which seq the term has the pod's records (undefined when the term ended meanwhile). */
  received(admission: Admission, pod: string, last: number): number | undefined {
    if (admission !== this.current) return undefined;
    const pods = admission.pods;
    const through = Math.max(pods.get(pod)?.through ?? 0, last);
    // Moved to the end: the map's order is the least recently heard first.
    pods.delete(pod);
    pods.set(pod, { through, seenAt: this.now() });
    if (pods.size > MAX_TERM_PODS) pods.delete(leastWorth(pods.keys(), this.rank) ?? '');
    return through;
  }

  /** Pods this term keeps (for tests). */
  get podsHeld(): number {
    return this.current.pods.size;
  }

  private forgetIdle(): void {
    const now = this.now();
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [pod, w] of this.current.pods) if (now - w.seenAt > FORGET_AFTER_MS) this.current.pods.delete(pod);
  }
}
