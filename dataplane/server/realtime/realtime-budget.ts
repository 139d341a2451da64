import type { BudgetConfig, RouteConfig } from '../../config/snapshot.js';
import type { Caller } from '../../core/caller.js';
import type { Usage } from '../../core/canonical.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { admitAll, admitAllNow } from '../../governance/admission.js';
import { applicableBudgets, Downgrade } from '../../governance/budget/budget-admitter.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from '../../governance/types.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { downgradeRefused } from '../passthrough/passthrough-route.js';
import { realtimeEvent } from './realtime-event.js';

/**
 * An output cap as a Realtime event writes it: a token count, `inf` (no cap: OpenAI's default), or
 * undefined when the event does not say (the session's, then the target's, applies).
 */
type OutputCap = number | 'inf' | undefined;

/** What a client's `response.create` says that the Budgets need: its event id (echoed in a refusal) and its output cap. */
interface ResponseCreate {
  eventId: string | undefined;
  maxOutputTokens: OutputCap;
}

function outputCapOf(value: unknown): OutputCap {
  if (value === 'inf') return 'inf';
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** An event's object field `field`'s output cap: GA names it max_output_tokens, the beta max_response_output_tokens. */
function capIn(event: Record<string, unknown>, field: string): OutputCap {
  const o = isObject(event[field]) ? event[field] : {};
  return outputCapOf(o.max_output_tokens ?? o.max_response_output_tokens);
}

/** A client's `response.create` (parsed only when the text may be one), else undefined. */
export function responseCreate(text: string): ResponseCreate | undefined {
  const event = realtimeEvent(text, 'response.create');
  if (event === undefined) return undefined;
  return { eventId: typeof event.event_id === 'string' ? event.event_id : undefined, maxOutputTokens: capIn(event, 'response') };
}

/**
 * The session's output cap in a `session.update` (the client's) or `session.created` /
 * `session.updated` (the upstream's) event, parsed only when the text may be one; null for every
 * other message, undefined for one that does not set it.
 */
export function sessionCap(text: string, types: readonly string[]): OutputCap | null {
  const event = realtimeEvent(text, types);
  return event === undefined ? null : capIn(event, 'session');
}

const CLIENT_SESSION_EVENTS = ['session.update'];
const UPSTREAM_SESSION_EVENTS = ['session.created', 'session.updated'];

/** The id of an upstream `response.created` event's response, else undefined. */
function createdId(text: string): string | undefined {
  try {
    const event: unknown = JSON.parse(text);
    return isObject(event) && isObject(event.response) && typeof event.response.id === 'string' ? event.response.id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Realtime `error` event for a refusal of the gateway's own, with the HTTP refusal's code and
 * words; `event_id` names the client event refused, as OpenAI's error events do.
 */
export function gatewayErrorEvent(err: GatewayError, eventId?: string): string {
  // The HTTP wording names chat's fields; a Realtime response is capped by its own.
  const message = err.message.replace('set max_tokens (or max_completion_tokens)', 'set response.max_output_tokens');
  return JSON.stringify({ type: 'error', error: { type: err.status >= 500 ? 'server_error' : 'invalid_request_error', code: err.code, message, param: null, event_id: eventId ?? null } });
}

type Decision = GatewayError | undefined;

export interface RealtimeBudgetDeps {
  /** The connection's admission (rate limits and Budgets, at the upgrade): every response is charged to it as it ends. */
  connection: Admission;
  /** The Budget admitters (not the rate limits: a response is not a request). */
  admitters: readonly Admitter[];
  caller: Caller;
  route: RouteConfig;
  /** The Budgets of the snapshot the connection is pinned to. */
  budgets: readonly BudgetConfig[];
  toUpstream(text: string): void;
  toClient(text: string): void;
  /**
   * The most output tokens one response of the session's target can produce when neither the
   * response nor the session caps it (the target's context window less the prompt, else
   * DEFAULT_OUTPUT_CAP).
   */
  targetOutputCap(promptTokens: number): number;
}

/**
 * A Realtime connection's Budgets while it is open. Each response is charged as its `response.done`
 * arrives (its Budgets and token limits see the spend at once, not at the close). A client's
 * `response.create` is relayed only when every Budget can hold that response's worst case (the
 * session's input so far, and the most output it may produce: the response's own cap, else the
 * session's, else the target's, at the route's dearest prices): an exhausted Budget refuses it with
 * an `error` event and the session stays open. The hold is released when the response ends, its
 * actual usage charged in its place, so that responses started at once see each other. Before, the
 * output held was the last response's, so a burst of uncapped responses overshot a small Budget.
 * A response the upstream starts by itself (server VAD) while a Budget is exhausted is cancelled,
 * and one running when a Budget that cuts streams is crossed.
 */
export class RealtimeBudget {
  /** Holds of relayed response.create events the upstream has not started yet, oldest first. */
  private readonly awaiting: Admission[] = [];
  /** Holds of responses started and not done, oldest first. */
  private readonly running: Admission[] = [];
  /** Client messages behind a response.create whose Budgets are asked asynchronously (Redis), in order. */
  private waiting: { create: ResponseCreate | undefined; input: Usage | undefined; send: () => void }[] | undefined;
  /** The session's output cap as the client last set it (session.update), and as the upstream last reported it. */
  private clientSessionCap: OutputCap;
  private upstreamSessionCap: OutputCap;
  private closed = false;
  /** A running response was cancelled for a Budget that cuts streams: once, until the responses running end. */
  private cut = false;
  /** Some Budget that applies cuts streams: only then is a running response watched. */
  readonly cutsStreams: boolean;

  constructor(private readonly deps: RealtimeBudgetDeps) {
    this.cutsStreams = applicableBudgets(deps.budgets, deps.caller, deps.route).some((b) => b.action.cutStreams);
  }

  /** A response's usage as it ended (or as estimated at the close): charged now, never again. */
  charge(usage: Usage, costUsd: number): void {
    this.deps.connection.charge({ usage, costUsd });
  }

  /** An upstream message: its session.created / session.updated say the session's output cap. */
  fromUpstream(text: string): void {
    const cap = sessionCap(text, UPSTREAM_SESSION_EVENTS);
    if (cap !== null) this.upstreamSessionCap = cap;
  }

  /**
   * The session's output cap for a response that sets none, undefined when uncapped. The larger of
   * the client's and the upstream's word: a session.update not yet applied (or refused) upstream
   * never lowers the hold, and one raising the cap raises it at once.
   */
  private sessionOutputCap(): number | undefined {
    const client = this.clientSessionCap;
    const upstream = this.upstreamSessionCap;
    if (client === 'inf' || upstream === 'inf') return undefined;
    if (client === undefined) return upstream;
    return upstream === undefined ? client : Math.max(client, upstream);
  }

  /**
   * A client message on its way upstream: `send` relays it, in order, unless it is a
   * `response.create` a Budget refuses (the client gets an error event instead).
   */
  fromClient(text: string | undefined, input: Usage | undefined, send: () => void): void {
    const create = text === undefined ? undefined : responseCreate(text);
    if (create === undefined && text !== undefined) {
      const cap = sessionCap(text, CLIENT_SESSION_EVENTS);
      // A session.update that does not name the cap leaves it as it was.
      if (cap !== null && cap !== undefined) this.clientSessionCap = cap;
    }
    this.feed(create, input, send);
  }

  private feed(create: ResponseCreate | undefined, input: Usage | undefined, send: () => void): void {
    if (this.waiting !== undefined) {
      this.waiting.push({ create, input, send });
      return;
    }
    if (create === undefined) return send();
    const decision = this.admitResponse(input, create.maxOutputTokens);
    if (!(decision instanceof Promise)) return this.decided(decision, create, send);
    this.waiting = [];
    void decision.then((d) => {
      this.decided(d, create, send);
      const behind = this.waiting ?? [];
      this.waiting = undefined;
      // A later response.create asked asynchronously again queues the rest behind itself.
      for (const m of behind) this.feed(m.create, m.input, m.send);
    });
  }

  private decided(refusal: Decision, create: ResponseCreate, send: () => void): void {
    if (refusal === undefined) send();
    else this.deps.toClient(gatewayErrorEvent(refusal, create.eventId));
  }

  /** Holds a response's worst case against the Budgets (kept in `awaiting`); the refusal when one cannot. */
  private admitResponse(input: Usage | undefined, asked: OutputCap): Decision | Promise<Decision> {
    const promptTokens = input?.inputTokens ?? 0;
    const held = this.admit(promptTokens, this.worstOutput(promptTokens, asked));
    const keep = (hold: Admission): Decision => {
      if (this.closed) hold.settle({ usage: undefined, costUsd: 0 });
      else this.awaiting.push(hold);
      return undefined;
    };
    if (held instanceof Promise) return held.then((h) => (h instanceof GatewayError ? h : keep(h)));
    return held instanceof GatewayError ? held : keep(held);
  }

  /** The most output tokens a response may produce: its own cap, else (none, not `inf`) the session's, else the target's. */
  private worstOutput(promptTokens: number, asked: OutputCap): number {
    if (typeof asked === 'number') return asked;
    const session = asked === undefined ? this.sessionOutputCap() : undefined;
    return session ?? this.deps.targetOutputCap(promptTokens);
  }

  private admit(promptTokens: number, maxOutputTokens: number): Admission | GatewayError | Promise<Admission | GatewayError> {
    const request: AdmissionRequest = { caller: this.deps.caller, route: this.deps.route, req: { op: 'chat', body: {}, stream: true, clientWantsUsage: false }, promptTokens, maxOutputTokens, budgets: this.deps.budgets };
    try {
      const now = admitAllNow(this.deps.admitters, request);
      if (now !== undefined) return now;
    } catch (err) {
      return refusalOf(err);
    }
    return admitAll(this.deps.admitters, request).catch(refusalOf);
  }

  /** The upstream started a response: a client's (its hold moves on), else its own, cancelled while a Budget is exhausted. */
  started(text: string): void {
    const hold = this.awaiting.shift();
    if (hold !== undefined) {
      this.running.push(hold);
      return;
    }
    const id = createdId(text);
    const check = this.admit(0, 0);
    const act = (d: Admission | GatewayError): void => {
      if (!(d instanceof GatewayError)) return d.settle({ usage: undefined, costUsd: 0 });
      if (this.closed) return;
      this.deps.toUpstream(JSON.stringify({ type: 'response.cancel', ...(id === undefined ? {} : { response_id: id }) }));
      this.deps.toClient(gatewayErrorEvent(d));
    };
    if (check instanceof Promise) void check.then(act);
    else act(check);
  }

  /** A response ended (response.done, with usage or without): its hold is released. */
  done(): void {
    this.running.shift()?.settle({ usage: undefined, costUsd: 0 });
    if (this.running.length === 0) this.cut = false;
  }

  /** The upstream answered with an error event: the newest response.create may not have started a response. */
  failed(): void {
    this.awaiting.pop()?.settle({ usage: undefined, costUsd: 0 });
  }

  /**
   * While responses run: one whose estimate (`soFar`) crosses a Budget that cuts streams is
   * cancelled upstream, and the client told why.
   */
  watch(soFar: Settlement): void {
    if (this.cut || this.closed) return;
    const reason = this.deps.connection.overBudget?.(soFar);
    if (reason === undefined) return;
    this.cut = true;
    this.deps.toUpstream(JSON.stringify({ type: 'response.cancel' }));
    this.deps.toClient(gatewayErrorEvent(new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `${reason}; the response was cancelled`)));
  }

  /** The connection ended: holds released, the connection's admission settled with nothing left to charge. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const hold of [...this.awaiting.splice(0), ...this.running.splice(0)]) hold.settle({ usage: undefined, costUsd: 0 });
    this.deps.connection.settle({ usage: undefined, costUsd: 0 });
  }
}

function refusalOf(err: unknown): GatewayError {
  if (err instanceof Downgrade) return downgradeRefused(err);
  return err instanceof GatewayError ? err : errors.internal(err);
}
