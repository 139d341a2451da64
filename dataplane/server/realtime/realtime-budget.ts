import type { BudgetConfig, Pricing, RouteConfig } from '../../config/snapshot.js';
import type { BilledUnits } from '../../metering/cost.js';
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

/**
 * Whether an upstream session event says its turn detection creates responses by itself (server or
 * semantic VAD with `create_response` not false: OpenAI's default), undefined when the text is no
 * session event. GA names it `audio.input.turn_detection`, the beta `turn_detection`.
 */
export function autoResponds(text: string): boolean | undefined {
  const event = realtimeEvent(text, UPSTREAM_SESSION_EVENTS);
  if (event === undefined) return undefined;
  const session = isObject(event.session) ? event.session : {};
  const audio = isObject(session.audio) && isObject(session.audio.input) ? session.audio.input : {};
  const vad = 'turn_detection' in session ? session.turn_detection : audio.turn_detection;
  return isObject(vad) && vad.create_response !== false;
}

/** Client events that feed the turn detection: a turn they end makes the upstream start a response (and bill its input). */
const TURN_EVENTS = ['input_audio_buffer.append', 'input_audio_buffer.commit'];
/** How often, at most, a session whose turns are refused asks its Budgets again whether one more could be held. */
export const TURN_CHECK_INTERVAL_MS = 1000;
/** Input a turn hold keeps beyond what was sent (and an eighth more): two seconds of audio as a hold counts it, so that it is not asked again for every chunk. */
const TURN_HOLD_ROOM_TOKENS = 40;
/**
 * Responses a client may have asked for (relayed, not done) at once: past it a response.create is
 * refused with an error event. A conversation runs one at a time; out-of-band ones (conversation
 * `none`) run beside it, each kept here until its response.done.
 */
export const MAX_RESPONSES_IN_FLIGHT = 64;
/** Responses a session keeps track of at once: one the upstream starts past it is cancelled, as a refused one. */
export const MAX_RUNNING = 2 * MAX_RESPONSES_IN_FLIGHT;
/** Client messages queued behind a hold asked for asynchronously before the client's reading pauses. */
export const MAX_WAITING = 256;

const CLIENT_SESSION_EVENTS = ['session.update'];
const UPSTREAM_SESSION_EVENTS = ['session.created', 'session.updated'];

/** The id of the response an upstream `response.created` / `response.done` event is about, else undefined. */
export function responseIdOf(text: string): string | undefined {
  try {
    const event: unknown = JSON.parse(text);
    return isObject(event) && isObject(event.response) && typeof event.response.id === 'string' ? event.response.id : undefined;
  } catch {
    return undefined;
  }
}

/** The `event_id` an upstream `error` event names (the client event it refuses): a string, null when it names none. */
export function refusedEventId(text: string): string | null {
  const event = realtimeEvent(text, 'error');
  const id = event !== undefined && isObject(event.error) ? event.error.event_id : undefined;
  return typeof id === 'string' ? id : null;
}

/**
 * The event ids of the gateway's own client events (a response.cancel): the upstream's error about
 * one (the response had already ended) is the gateway's, not the client's, and is not relayed.
 */
const OWN_EVENT_PREFIX = 'tollgate_';

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

/** What the turn gate holds: the hold (of `parts` holds asked one after another as it grew), its input and output tokens. */
interface TurnHold {
  hold: Admission;
  input: number;
  output: number;
  parts: number;
}

/** Holds a turn hold asked of Redis grows by at most before it is asked for whole again (and its parts released). */
const MAX_TURN_HOLD_PARTS = 8;

/** Two holds as one: settled together, each once. */
function bothHolds(a: Admission, b: Admission): Admission {
  return {
    headers: {},
    charge: (part) => a.charge(part),
    settle: (result) => {
      a.settle(result);
      b.settle({ usage: undefined, costUsd: 0 });
    },
  };
}

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
  /** Pauses (true) or resumes the reading of the client's messages: while too many wait behind a hold asked for asynchronously. */
  pauseClient?(paused: boolean): void;
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
 * A response the upstream starts by itself (server or semantic VAD) is held before the turn that
 * starts it is relayed (`turnGate`: the client's audio and commits are kept from the upstream while
 * the Budgets cannot hold it), that hold handed to it as it starts; one that outgrew it is held
 * anew, and cancelled when the Budgets cannot hold it (`started`). One running when a Budget that
 * cuts streams is crossed is cancelled too.
 */
export class RealtimeBudget {
  /** Holds of relayed response.create events the upstream has not started yet, oldest first, with the client's event id. */
  private readonly awaiting: { hold: Admission; eventId: string | undefined; worst: Usage }[] = [];
  /**
   * Responses started and not done, by response id (in the order started), with their holds (none
   * for a response refused (cancelled) or whose hold is still being asked for: Redis) and their
   * worst case (input upper bound and output cap): what one a close cuts short is charged.
   */
  private readonly running = new Map<string, { hold: Admission | undefined; worst: Usage }>();
  /** Client messages behind a hold asked for asynchronously (Redis: a response.create's, a turn's), in order. */
  private waiting: { text: string | undefined; input: Usage | undefined; send: () => void }[] | undefined;
  /**
   * What the turn gate holds for the response the client's next turn would make the upstream start
   * (its input upper bound, with room to grow, and output cap): granted before the turn's audio is
   * relayed, handed to that response at its response.created.
   */
  private turnHold: TurnHold | undefined;
  /** The route holds apart are last priced on (holdApart): its model and prices. */
  private pricedRoute: { model: string; pricing: Pricing; route: RouteConfig } | undefined;
  /** Every admitter decides in memory (no Redis): a hold released and another asked for is one step. */
  private readonly inMemory: boolean;
  /** The session's output cap as the client last set it (session.update), and as the upstream last reported it. */
  private clientSessionCap: OutputCap;
  private upstreamSessionCap: OutputCap;
  private closed = false;
  /** A running response was cancelled for a Budget that cuts streams: once, until the responses running end. */
  private cut = false;
  /** Numbers the gateway's own events and the responses the upstream started without an id. */
  private seq = 0;
  /** Some Budget that applies cuts streams: only then is a running response watched. */
  readonly cutsStreams: boolean;
  /** The upstream's turn detection starts responses by itself (its last session.created / session.updated). */
  private autoResponse = false;
  /**
   * Why the Budgets cannot hold the response a turn would start, while they cannot: the client's
   * audio and commits are not relayed (turnGate); undefined while they can.
   */
  private turnRefusal: GatewayError | undefined;
  /** The client was told its turns are refused (once until they are allowed again). */
  private turnRefusalTold = false;
  /** When the Budgets were last asked about a turn (ms since the epoch). */
  private turnCheckedAt = 0;

  constructor(private readonly deps: RealtimeBudgetDeps) {
    this.cutsStreams = applicableBudgets(deps.budgets, deps.caller, deps.route).some((b) => b.action.cutStreams);
    this.inMemory = deps.admitters.every((a) => a.admitNow !== undefined);
  }

  /** A response's usage as it ended (or as estimated at the close): charged now, never again. */
  charge(usage: Usage, costUsd: number): void {
    this.deps.connection.charge({ usage, costUsd });
  }

  /** An upstream message: its session.created / session.updated say the session's output cap. */
  fromUpstream(text: string): void {
    const cap = sessionCap(text, UPSTREAM_SESSION_EVENTS);
    if (cap !== null) this.upstreamSessionCap = cap;
    const auto = autoResponds(text);
    if (auto !== undefined) this.autoResponse = auto;
    if (auto === false) this.dropTurnHold();
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
   * `response.create` a Budget refuses (the client gets an error event instead), or a turn event
   * the turn gate keeps back (`turnGate`).
   */
  fromClient(text: string | undefined, input: Usage | undefined, send: () => void): void {
    if (this.waiting !== undefined) {
      // Redis answers within its timeout, but a client may send faster than that: it is not read meanwhile.
      if (this.waiting.push({ text, input, send }) === MAX_WAITING) this.deps.pauseClient?.(true);
      return;
    }
    if (text !== undefined && this.autoResponse && TURN_EVENTS.some((t) => text.includes(`"${t}"`))) {
      const gate = this.turnGate(text, input);
      if (gate === false) return;
      if (gate !== true) return this.behind(gate.then((relay) => relay && send()));
    }
    const create = text === undefined ? undefined : responseCreate(text);
    if (create === undefined && text !== undefined) {
      const cap = sessionCap(text, CLIENT_SESSION_EVENTS);
      // A session.update that does not name the cap leaves it as it was.
      if (cap !== null && cap !== undefined) this.clientSessionCap = cap;
    }
    if (create === undefined) return send();
    if (this.awaiting.length + this.running.size >= MAX_RESPONSES_IN_FLIGHT) {
      // Before, each was kept (with its hold) until the upstream started and ended it: without bound.
      const tooMany = new GatewayError(429, 'too_many_responses', 'rate_limit_error', `this session already has ${MAX_RESPONSES_IN_FLIGHT} responses asked for and not done, the most the gateway keeps for one session; wait for a response.done or cancel one`);
      return this.deps.toClient(gatewayErrorEvent(tooMany, create.eventId));
    }
    const decision = this.admitResponse(input, create);
    if (!(decision instanceof Promise)) return this.decided(decision, create, send);
    this.behind(decision.then((d) => this.decided(d, create, send)));
  }

  /** The client's next messages wait for `decision` (a hold asked asynchronously), then go on in order. */
  private behind(decision: Promise<unknown>): void {
    this.waiting = [];
    void decision.then(() => {
      const behind = this.waiting ?? [];
      this.waiting = undefined;
      if (behind.length >= MAX_WAITING) this.deps.pauseClient?.(false);
      // A later hold asked asynchronously again queues the rest behind itself (fromClient).
      for (const m of behind) this.fromClient(m.text, m.input, m.send);
    });
  }

  /**
   * The turn gate of a session whose turns start responses by themselves: whether a client event
   * that feeds the turn detection (audio, a commit) may go upstream. It may while the response its
   * turn would start is held — its input upper bound `input` (everything sent, this event included)
   * and the session's output cap — by a hold taken before the event is relayed, kept and grown (with
   * room, so that it is not asked again for every chunk of audio) as the client speaks, and handed to
   * that response at its response.created (`started`). One the Budgets cannot hold is kept from the
   * upstream, the client told once (an error event budget_exceeded) until turns are allowed again;
   * after a refusal the Budgets are asked again at most every TURN_CHECK_INTERVAL_MS, and at once
   * after a hold of the session is released (a response ended: barge-in after a response.cancel goes
   * through at once). Before, the Budgets were only asked (nothing held) at most once a second: a
   * turn relayed after a check passed could find the room spent by other sessions at its
   * response.created, and be cancelled there and billed its input.
   */
  private turnGate(text: string, input: Usage | undefined): boolean | Promise<boolean> {
    const promptTokens = input?.inputTokens ?? 0;
    const output = this.worstOutput(promptTokens, undefined);
    const held = this.turnHold;
    if (held !== undefined && held.input >= promptTokens && held.output >= output) return true;
    const now = Date.now();
    if (this.turnRefusal !== undefined && now - this.turnCheckedAt < TURN_CHECK_INTERVAL_MS) return !this.refuseTurn(text);
    this.turnCheckedAt = now;
    const want = promptTokens + Math.ceil(promptTokens / 8) + TURN_HOLD_ROOM_TOKENS;
    if (held === undefined || this.inMemory) return this.replaceTurnHold(text, held, want, output);
    return this.growTurnHold(text, input, held, want, output);
  }

  /**
   * The turn hold replaced by one of `want` input tokens and `output`: the old one released, then the
   * new one asked for. With the Budgets in memory this is one step (no other session runs between):
   * a refusal takes the old one back at once. Asked of Redis, only for a session without a turn hold.
   */
  private replaceTurnHold(text: string, held: TurnHold | undefined, want: number, output: number): boolean | Promise<boolean> {
    this.turnHold = undefined;
    held?.hold.settle({ usage: undefined, costUsd: 0 });
    const decide = (d: Admission | GatewayError): boolean => {
      if (!(d instanceof GatewayError)) {
        if (this.closed || !this.autoResponse) d.settle({ usage: undefined, costUsd: 0 });
        else this.turnHold = { hold: d, input: want, output, parts: 1 };
        this.allowTurns();
        return true;
      }
      this.turnRefusal = d;
      if (held !== undefined) this.retake(held.input, held.output);
      return !this.refuseTurn(text);
    };
    const asked = this.admit(want, output);
    return asked instanceof Promise ? asked.then(decide) : decide(asked);
  }

  /**
   * A turn hold asked of Redis grows without being let go: the difference is held beside it (the
   * whole, when the prices are not linear in the input or the hold has MAX_TURN_HOLD_PARTS parts),
   * and only once that is granted is the old one released, if at all. Before, the old one was
   * released first: another pod's request could take the room meanwhile, the larger hold was
   * refused and the old one could not be taken back, and the turn whose audio had gone upstream
   * under it started a response that was cancelled (its input billed).
   */
  private growTurnHold(text: string, input: Usage | undefined, held: TurnHold, want: number, output: number): Promise<boolean> {
    const whole = held.parts >= MAX_TURN_HOLD_PARTS || !this.linearUpTo(want);
    const asked = whole ? this.admit(want, output) : this.admit(Math.max(0, want - held.input), Math.max(0, output - held.output));
    const decide = (d: Admission | GatewayError): boolean | Promise<boolean> => {
      if (d instanceof GatewayError) {
        // The old hold stays: the audio relayed under it may still start a turn, and that turn is held.
        this.turnRefusal = d;
        return !this.refuseTurn(text);
      }
      if (this.closed || !this.autoResponse) {
        d.settle({ usage: undefined, costUsd: 0 });
        return true;
      }
      if (this.turnHold !== held) {
        // Taken by a response the upstream started (or dropped) meanwhile: asked again for this turn.
        d.settle({ usage: undefined, costUsd: 0 });
        return this.turnGate(text, input);
      }
      this.allowTurns();
      if (whole) {
        held.hold.settle({ usage: undefined, costUsd: 0 });
        this.turnHold = { hold: d, input: want, output, parts: 1 };
      } else {
        this.turnHold = { hold: bothHolds(held.hold, d), input: Math.max(want, held.input), output: Math.max(output, held.output), parts: held.parts + 1 };
      }
      return true;
    };
    return Promise.resolve(asked).then(decide);
  }

  /** Whether a hold of up to `promptTokens` costs the sum of its parts' holds: no target's price rises with the prompt (long context) below it. */
  private linearUpTo(promptTokens: number): boolean {
    return this.deps.route.targets.every((t) => t.pricing.longContext === undefined || t.pricing.longContext.aboveInputTokens >= promptTokens);
  }

  /** The Budgets hold a turn again: the client is told again when they no longer do. */
  private allowTurns(): void {
    this.turnRefusal = undefined;
    this.turnRefusalTold = false;
  }

  /** Takes back a turn hold given up for a larger one that was refused (the audio relayed under it may still start a turn). */
  private retake(input: number, output: number): void {
    const again = this.admit(input, output);
    const keep = (d: Admission | GatewayError): void => {
      if (d instanceof GatewayError) return;
      if (this.closed || !this.autoResponse || this.turnHold !== undefined) d.settle({ usage: undefined, costUsd: 0 });
      else this.turnHold = { hold: d, input, output, parts: 1 };
    };
    if (again instanceof Promise) void again.then(keep);
    else keep(again);
  }

  /** Whether a turn event is kept back while turns are refused (a text that only names one is relayed); the client told once. */
  private refuseTurn(text: string): boolean {
    const refusal = this.turnRefusal;
    if (refusal === undefined) return false;
    if (realtimeEvent(text, TURN_EVENTS) === undefined) return false;
    if (!this.turnRefusalTold) {
      this.turnRefusalTold = true;
      const message = `${refusal.message.replace(/; set max_tokens \(or max_completion_tokens\) to lower the hold$/, '')}; input audio is not relayed while the Budget cannot hold the response your turn would start (turn detection creates one), so that the turn is not billed: set the session's max_output_tokens to lower the hold, or wait for the Budget's reset`;
      this.deps.toClient(gatewayErrorEvent(new GatewayError(refusal.status, refusal.code, refusal.type, message)));
    }
    return true;
  }

  /** A hold of the session was released: a turn refused meanwhile is asked about again at its next event, not a second later. */
  private released(): void {
    if (this.turnRefusal !== undefined) this.turnCheckedAt = 0;
  }

  /** The turn hold is given up (the session no longer starts responses by itself, or closed). */
  private dropTurnHold(): void {
    const held = this.turnHold;
    this.turnHold = undefined;
    held?.hold.settle({ usage: undefined, costUsd: 0 });
  }

  private decided(refusal: Decision, create: ResponseCreate, send: () => void): void {
    if (refusal === undefined) send();
    else this.deps.toClient(gatewayErrorEvent(refusal, create.eventId));
  }

  /** Holds a response's worst case against the Budgets (kept in `awaiting`); the refusal when one cannot. */
  private admitResponse(input: Usage | undefined, create: ResponseCreate): Decision | Promise<Decision> {
    const promptTokens = input?.inputTokens ?? 0;
    const outputTokens = this.worstOutput(promptTokens, create.maxOutputTokens);
    const held = this.admit(promptTokens, outputTokens);
    const keep = (hold: Admission): Decision => {
      if (this.closed) hold.settle({ usage: undefined, costUsd: 0 });
      else this.awaiting.push({ hold, eventId: create.eventId, worst: { inputTokens: promptTokens, outputTokens, cachedInputTokens: 0 } });
      return undefined;
    };
    if (held instanceof Promise) return held.then((h) => (h instanceof GatewayError ? h : keep(h)));
    return held instanceof GatewayError ? held : keep(held);
  }

  /**
   * Holds `promptTokens` and `outputTokens` against the Budgets for something the upstream bills
   * apart from the responses (an input transcription outstanding of `audioSeconds` of audio, held at
   * a `perAudioSecond` price too where there is one): at `priced`'s model's prices when given, else at
   * the route's dearest. `keep` is
   * given the hold once granted (at once, or when Redis answers); a refusal holds nothing (what is
   * billed is charged all the same), and a hold granted after the close is released at once.
   */
  holdApart(promptTokens: number, outputTokens: number, audioSeconds: number, keep: (hold: Admission) => void, priced?: { model: string; pricing: Pricing }): void {
    const route = priced === undefined ? this.deps.route : this.routeAt(priced.model, priced.pricing);
    const units = { requests: 0, images: 0, characters: 0, audioSeconds };
    const held = this.admit(promptTokens, outputTokens, route, units);
    const take = (d: Admission | GatewayError): void => {
      if (d instanceof GatewayError) return;
      if (this.closed) d.settle({ usage: undefined, costUsd: 0 });
      else keep(d);
    };
    if (held instanceof Promise) void held.then(take);
    else take(held);
  }

  /** The session's route as one target of `model` at `pricing`, for holds priced at another model's prices (the last one kept: one model at a time). */
  private routeAt(model: string, pricing: Pricing): RouteConfig {
    const last = this.pricedRoute;
    if (last?.pricing === pricing && last.model === model) return last.route;
    const first = this.deps.route.targets[0];
    const route: RouteConfig = { ...this.deps.route, targets: [{ providerId: first?.providerId ?? '', model, priority: 0, weight: 1, pricing }] };
    this.pricedRoute = { model, pricing, route };
    return route;
  }

  /** The most output tokens a response may produce: its own cap, else (none, not `inf`) the session's, else the target's. */
  private worstOutput(promptTokens: number, asked: OutputCap): number {
    if (typeof asked === 'number') return asked;
    const session = asked === undefined ? this.sessionOutputCap() : undefined;
    return session ?? this.deps.targetOutputCap(promptTokens);
  }

  private admit(promptTokens: number, maxOutputTokens: number, route = this.deps.route, units?: BilledUnits): Admission | GatewayError | Promise<Admission | GatewayError> {
    const request: AdmissionRequest = { caller: this.deps.caller, route, req: { op: 'chat', body: {}, stream: true, clientWantsUsage: false }, promptTokens, maxOutputTokens, budgets: this.deps.budgets, ...(units === undefined ? {} : { units }) };
    try {
      const now = admitAllNow(this.deps.admitters, request);
      if (now !== undefined) return now;
    } catch (err) {
      return refusalOf(err);
    }
    return admitAll(this.deps.admitters, request).catch(refusalOf);
  }

  /**
   * The upstream started a response (`response.created`): a client's, whose hold moves on with it,
   * else one of its own (server VAD, semantic VAD), held now at its worst case as a client's would
   * be: the input (`input`) and the session's output cap, else the target's. One the Budgets cannot
   * hold is cancelled at once (response.cancel) and the client told why (an error event
   * budget_exceeded); what the upstream reports for it (its input, typically) is charged as any
   * response. Before, such a response was only checked against a Budget already exhausted: many
   * started at once each ran to the end.
   */
  started(text: string, input: Usage | undefined): void {
    const named = responseIdOf(text);
    const id = named ?? `${OWN_EVENT_PREFIX}response_${++this.seq}`;
    // An id announced twice: the first one's hold is not left behind.
    this.running.get(id)?.hold?.settle({ usage: undefined, costUsd: 0 });
    this.running.delete(id);
    const client = this.awaiting.shift();
    if (client !== undefined) {
      this.running.set(id, { hold: client.hold, worst: client.worst });
      return;
    }
    if (this.running.size >= MAX_RUNNING) {
      // An upstream starting responses without ending them: not kept, and cancelled.
      this.deps.toUpstream(JSON.stringify({ type: 'response.cancel', event_id: `${OWN_EVENT_PREFIX}cancel_${++this.seq}`, ...(named === undefined ? {} : { response_id: id }) }));
      return;
    }
    const promptTokens = input?.inputTokens ?? 0;
    const outputTokens = this.worstOutput(promptTokens, undefined);
    const worst: Usage = { inputTokens: promptTokens, outputTokens, cachedInputTokens: 0 };
    // The turn that started it was held before it was relayed: that hold is the response's.
    const turn = this.turnHold;
    this.turnHold = undefined;
    if (turn !== undefined && turn.input >= promptTokens && turn.output >= outputTokens) {
      this.running.set(id, { hold: turn.hold, worst });
      return;
    }
    // Input sent past the gate (an item created, not a turn event) outgrew it: held anew.
    turn?.hold.settle({ usage: undefined, costUsd: 0 });
    const held = this.admit(promptTokens, outputTokens);
    const act = (d: Admission | GatewayError): void => {
      // Ended (or the session closed) while its hold was asked for: nothing is left to hold.
      if (!this.running.has(id) || this.closed) {
        if (!(d instanceof GatewayError)) d.settle({ usage: undefined, costUsd: 0 });
        return;
      }
      if (!(d instanceof GatewayError)) {
        this.running.set(id, { hold: d, worst });
        return;
      }
      this.deps.toUpstream(JSON.stringify({ type: 'response.cancel', event_id: `${OWN_EVENT_PREFIX}cancel_${++this.seq}`, ...(responseIdOf(text) === undefined ? {} : { response_id: id }) }));
      // The client's next turns are kept from the upstream until the Budgets can hold one (turnGate).
      this.turnRefusal = d;
      this.turnRefusalTold = true;
      this.turnCheckedAt = Date.now();
      const message = `${d.message.replace(/; set max_tokens \(or max_completion_tokens\) to lower the hold$/, '')}; the response the server started by itself (turn detection) was cancelled, and input audio is not relayed until the Budget can hold a response: set the session's max_output_tokens to lower the hold, or turn_detection.create_response to false and send response.create yourself`;
      this.deps.toClient(gatewayErrorEvent(new GatewayError(d.status, d.code, d.type, message)));
    };
    this.running.set(id, { hold: undefined, worst });
    if (held instanceof Promise) void held.then(act);
    else act(held);
  }

  /** A response ended (`response.done`, with usage or without): its hold is released. */
  done(text: string): void {
    const id = responseIdOf(text);
    const key = id !== undefined && this.running.has(id) ? id : this.running.keys().next().value;
    if (key !== undefined) {
      this.running.get(key)?.hold?.settle({ usage: undefined, costUsd: 0 });
      this.running.delete(key);
      this.released();
    }
    if (this.running.size === 0) this.cut = false;
  }

  /**
   * The upstream answered with an error event. One naming a response.create the upstream has not
   * started (by its event_id) releases that one's hold; one naming no event releases the newest
   * (it may have refused it: a response it starts after all is held again as one of its own). True
   * for an error about the gateway's own event (a response.cancel that came after its response
   * ended): the client never sent it, and is not told.
   */
  failed(text: string): boolean {
    const eventId = refusedEventId(text);
    if (eventId?.startsWith(OWN_EVENT_PREFIX) === true) return true;
    const at = eventId === null ? this.awaiting.length - 1 : this.awaiting.findIndex((a) => a.eventId === eventId);
    if (at >= 0) {
      this.awaiting.splice(at, 1)[0]?.hold.settle({ usage: undefined, costUsd: 0 });
      this.released();
    }
    return false;
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
    this.deps.toUpstream(JSON.stringify({ type: 'response.cancel', event_id: `${OWN_EVENT_PREFIX}cancel_${++this.seq}` }));
    this.deps.toClient(gatewayErrorEvent(new GatewayError(429, 'budget_exceeded', 'insufficient_quota', `${reason}; the response was cancelled`)));
  }

  /**
   * The worst case of each response started and not done (at most `max`, oldest first): what the
   * upstream may bill for one a close cuts short — its input upper bound when it started and all the
   * output it may have made (its cap, else the session's, else the target's). Output the gateway
   * relayed is a lower bound only: an upstream generates faster than it streams, and what it made
   * before it saw the close was never sent.
   */
  cutShort(max: number): Usage[] {
    const out: Usage[] = [];
    for (const { worst } of this.running.values()) {
      if (out.length >= max) break;
      out.push(worst);
    }
    return out;
  }

  /** The connection ended: holds released, the connection's admission settled with nothing left to charge. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { hold } of this.awaiting.splice(0)) hold.settle({ usage: undefined, costUsd: 0 });
    for (const { hold } of this.running.values()) hold?.settle({ usage: undefined, costUsd: 0 });
    this.running.clear();
    this.dropTurnHold();
    this.deps.connection.settle({ usage: undefined, costUsd: 0 });
  }
}

function refusalOf(err: unknown): GatewayError {
  if (err instanceof Downgrade) return downgradeRefused(err);
  return err instanceof GatewayError ? err : errors.internal(err);
}
