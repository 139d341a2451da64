import type { BudgetConfig, RouteConfig } from '../config/snapshot.js';
import type { Caller } from '../core/caller.js';
import type { CanonicalRequest, JsonObject, Usage } from '../core/canonical.js';
import type { BilledUnits } from '../metering/cost.js';
import type { PromptMedia } from '../metering/token-estimate.js';

/** What admission sees of a request before it is sent upstream. */
export interface AdmissionRequest {
  readonly caller: Caller;
  readonly route: RouteConfig;
  readonly req: CanonicalRequest;
  /** Cheap estimate of prompt tokens. */
  readonly promptTokens: number;
  /** The most output tokens the request can be billed for: the cap per completion (asked, else a provider or route default) × n / best_of (governance/admission outputCap). */
  readonly maxOutputTokens: number;
  /**
   * The prompt's media whose tokens depend on the target (metering/token-estimate PromptMedia; set
   * only when it has files, images or inline PDFs): Budgets hold each target's promptTokensOn (its
   * model's image bound, UNREAD_FILE_TOKENS for a file named by id, all at most what its context
   * window leaves of the prompt). Rate limits and the context-window check read promptTokens.
   */
  readonly media?: PromptMedia;
  /**
   * What the request is priced by besides tokens, at most (a pass-through request: 1 request, the
   * images it asks for, the characters of speech it sends), at the Provider's unit prices.
   */
  readonly units?: BilledUnits;
  /**
   * The Budgets of the snapshot the request is pinned to (as its route is): a snapshot swap in
   * the middle of a request changes neither, and a snapshot without Budgets leaves the budget
   * stage out of the chain altogether.
   */
  readonly budgets: readonly BudgetConfig[];
}

/** The result of a request, for settling what admission reserved. */
export interface Settlement {
  /** Real (or, for cut streams, estimated) usage; undefined when nothing was sent upstream. */
  usage: Usage | undefined;
  /** Cost in USD of that usage at the serving target's prices. */
  costUsd: number;
}

/**
 * A granted admission. `settle` is called exactly once when the response ends (also on client
 * disconnect and on upstream failure), with what was really used, so that reservations and token
 * estimates are corrected.
 */
export interface Admission {
  /** Headers to add to the response (e.g. x-ratelimit-*). */
  headers: Record<string, string>;
  settle(result: Settlement): void;
  /**
   * Charges part of what the request used before it settles, at once: a connection that lasts
   * (Realtime) is charged each response as it ends, so that its Budgets and token limits see the
   * spend while it is open. What was charged is never charged again: `settle` is then given only
   * what was not (usage undefined when nothing is left).
   */
  charge(part: Settlement): void;
  /**
   * Asked while a stream runs, with its cost and tokens so far: a reason to cut it when a budget
   * that says so (cutStreams) would be crossed.
   */
  overBudget?(soFar: Settlement): string | undefined;
}

/** One admission check (rate limits, budgets). Throws a GatewayError (429/402/403) to refuse. */
export interface Admitter {
  admit(request: AdmissionRequest): Promise<Admission>;
  /**
   * The same decision without a promise, present only on an admitter that always decides in
   * memory (never waits on Redis): the stages take it to skip a promise per request.
   */
  readonly admitNow?: (request: AdmissionRequest) => Admission;
}

/** A response as the cache keeps it: the JSON body, or the chunks of a stream in order. */
export type CachedResponse = { kind: 'response'; body: JsonObject } | { kind: 'stream'; chunks: JsonObject[] };

export interface ResponseCache {
  /** undefined on a miss. Keys already include the route and, unless the route shares, the caller. */
  get(key: string): Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse, ttlMs: number, maxEntries: number): Promise<void>;
}
