import type { BudgetConfig, RouteConfig } from '../../config/snapshot.js';
import type { Caller } from '../../core/caller.js';
import type { Usage } from '../../core/canonical.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { admitAll, admitAllNow } from '../../governance/admission.js';
import { applicableBudgets, Downgrade } from '../../governance/budget/budget-admitter.js';
import type { Admission, AdmissionRequest, Admitter, Settlement } from '../../governance/types.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { downgradeRefused } from '../passthrough/passthrough-route.js';

/** What a client's `response.create` says that the Budgets need: its event id (echoed in a refusal) and its output cap. */
interface ResponseCreate {
  eventId: string | undefined;
  maxOutputTokens: number | undefined;
}

/** A client's `response.create` (parsed only when the text may be one), else undefined. */
export function responseCreate(text: string): ResponseCreate | undefined {
  if (!text.includes('"response.create"')) return undefined;
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(event) || event.type !== 'response.create') return undefined;
  const response = isObject(event.response) ? event.response : {};
  // GA names it max_output_tokens, the beta max_response_output_tokens; "inf" is no cap.
  const cap = response.max_output_tokens ?? response.max_response_output_tokens;
  return {
    eventId: typeof event.event_id === 'string' ? event.event_id : undefined,
    maxOutputTokens: typeof cap === 'number' && Number.isFinite(cap) && cap >= 0 ? cap : undefined,
  };
}

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
}

/**
 * A Realtime connection's Budgets while it is open. Each response is charged as its `response.done`
 * arrives (its Budgets and token limits see the spend at once, not at the close). A client's
 * `response.create` is relayed only when every Budget can hold that response's estimate (the
 * session's input so far, and its last output unless the response caps it lower, at the route's
 * dearest prices): an exhausted Budget refuses it with an `error` event and the session stays
 * open. The hold is released when a response ends, so that responses started at once see each other.
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
  private lastOutputTokens: number | undefined;
  private closed = false;
  /** A running response was cancelled for a Budget that cuts streams: once, until the responses running end. */
  private cut = false;
  /** Some Budget that applies cuts streams: only then is a running response watched. */
  readonly cutsStreams: boolean;

  constructor(private readonly deps: RealtimeBudgetDeps) {
    this.cutsStreams = applicableBudgets(deps.budgets, deps.caller, deps.route).some((b) => b.action.cutStreams);
  }

  /** A response's usage as it ended (or as estimated at the close): charged now, never again. */
  charge(usage: Usage, costUsd: number, reported: boolean): void {
    if (reported) this.lastOutputTokens = usage.outputTokens;
    this.deps.connection.charge({ usage, costUsd });
  }

  /**
   * A client message on its way upstream: `send` relays it, in order, unless it is a
   * `response.create` a Budget refuses (the client gets an error event instead).
   */
  fromClient(text: string | undefined, input: Usage | undefined, send: () => void): void {
    const create = text === undefined ? undefined : responseCreate(text);
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

  /** Holds a response's estimate against the Budgets (kept in `awaiting`); the refusal when one cannot. */
  private admitResponse(input: Usage | undefined, asked: number | undefined): Decision | Promise<Decision> {
    const promptTokens = input?.inputTokens ?? 0;
    const last = this.lastOutputTokens;
    const maxOutputTokens = last === undefined ? (asked ?? 0) : Math.min(asked ?? last, last);
    const held = this.admit(promptTokens, maxOutputTokens);
    const keep = (hold: Admission): Decision => {
      if (this.closed) hold.settle({ usage: undefined, costUsd: 0 });
      else this.awaiting.push(hold);
      return undefined;
    };
    if (held instanceof Promise) return held.then((h) => (h instanceof GatewayError ? h : keep(h)));
    return held instanceof GatewayError ? held : keep(held);
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
