import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { Caller } from '../../core/caller.js';
import type { Usage } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import { costUsd, dearestInputPrice, dearestOutputPrice } from '../../metering/cost.js';
import { type UsageSink, usageRecord } from '../../metering/usage-record.js';
import { usageProblem } from '../../metering/settled-usage.js';
import type { ForwardTarget } from '../passthrough/passthrough-route.js';
import type { Pricing, RouteConfig } from '../../config/snapshot.js';
import { messageText, realtimeUsage, transcriptionSecondsAsTokens, transcriptionUsage } from './realtime-usage.js';
import { realtimeEvent } from './realtime-event.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { SentInput } from './sent-input.js';
import { type PendingTranscription, PendingTranscriptions, transcriptionBound } from './pending-transcriptions.js';
import { gatewayErrorEvent, MAX_RUNNING, type RealtimeBudget, refusedEventId, responseIdOf } from './realtime-budget.js';
import { providerSecrets } from '../../providers/registry.js';
import { scrubJson, scrubText } from '../../providers/scrub-credentials.js';
import type { RealtimeTelemetry } from '../../telemetry/gateway-observer.js';
import { mayCall } from '../../governance/access.js';
import type { Authenticator } from '../../governance/identity/authenticator.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { callerResidency, violatedPolicy } from '../../routing/rules/residency.js';
import { uninspectedVerdict } from '../../policy/guardrail/uninspected.js';
import { DEFAULT_REALTIME_MAX_DURATION_MS } from '../../config/pass-through-endpoints.js';

// A Realtime session's lifecycle once both sides are up (realtime-proxy.ts admits and connects
// it): messages relayed both ways, each response metered and charged as it ends, the session ended
// when idle, at its maxDuration or its ServiceAccount token's expiry, or when a new snapshot
// revokes it, and settled (cut responses charged, Budgets released) when it closes.

/** Longest close reason a WebSocket frame carries (RFC 6455: 125 bytes of payload, 2 of them the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/** The upstream's close reason scrubbed like any upstream error text, then cut (at a character) to fit a close frame. */
function scrubbedReason(reason: Buffer, secrets: readonly string[]): string {
  return closeReason(scrubText(reason.toString('utf8'), secrets));
}

/**
 * An upstream `error` event with its `error` (message, code, param) scrubbed; undefined for every
 * other message, relayed as it came. Only messages that mention "error" are parsed.
 */
function scrubbedError(text: string, secrets: readonly string[]): string | undefined {
  const event = realtimeEvent(text, 'error');
  if (event === undefined) return undefined;
  return JSON.stringify({ ...event, error: scrubJson(event.error, secrets) });
}

/** A close reason of the gateway's own words, cut (at a character) to fit a close frame. */
function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > MAX_CLOSE_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

/** A duration as the manifests write it (60m, 90s, 300ms). */
function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Close codes that may not be sent on the wire (1005, 1006, 1015) become 1011 / 1000. */
function sendableCode(code: number): number {
  if (code === 1005) return 1000;
  if (code === 1006 || code === 1015 || code < 1000 || code >= 5000) return 1011;
  return code;
}

/**
 * Unfinished responses charged at a close, at most: a session runs one response at a time, plus any
 * out-of-band ones it asked for; an upstream announcing more does not make the close write more records.
 */
const MAX_UNFINISHED_CHARGED = MAX_RUNNING;

/** A response whose input nothing estimates (the client sent nothing yet). */
const NO_TOKENS: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/** A worst case's cost: its input at the dearest input price, its output at the dearest output price (text, audio, image). */
function worstCostUsd(usage: Usage, pricing: Pricing): number {
  // The usage names no audio, image or cached tokens: every token is priced at the text prices, set to the dearest.
  return costUsd(usage, { ...pricing, inputPerMTok: dearestInputPrice(pricing, usage.inputTokens), outputPerMTok: dearestOutputPrice(pricing, usage.inputTokens), longContext: undefined });
}

/** Whether a model's prices say anything: a target of a model the Provider lists without pricing is charged $0 (its route says Unpriced). */
function isPriced(p: Pricing): boolean {
  return [p.inputPerMTok, p.outputPerMTok, p.audioInputPerMTok, p.audioOutputPerMTok, p.perAudioSecondUsd].some((price) => price !== undefined && price > 0);
}

/** The input side of a response's usage (its output set to none): what a later response of the session reads at least. */
function inputOf(usage: Usage): Usage {
  const { outputTokens: _output, audioOutputTokens: _audio, imageOutputTokens: _image, ...input } = usage;
  return { ...input, outputTokens: 0 };
}

/**
 * The input transcription model an upstream session event names (GA `audio.input.transcription`,
 * beta `input_audio_transcription`); null when it turns transcription off, undefined when the text
 * is no session event or does not say. Before, null was read as undefined: a session that turned
 * transcription off kept the model it had.
 */
function inputTranscriptionModel(text: string): string | null | undefined {
  const event = realtimeEvent(text, ['session.created', 'session.updated']);
  if (event === undefined || !isObject(event.session)) return undefined;
  const session = event.session;
  const audio = isObject(session.audio) && isObject(session.audio.input) ? session.audio.input : {};
  const transcription = 'input_audio_transcription' in session ? session.input_audio_transcription : audio.transcription;
  if (transcription === null) return null;
  return isObject(transcription) && typeof transcription.model === 'string' ? transcription.model : undefined;
}

/** The `item_id` of an upstream event of `types` (a commit, a transcription's end), undefined when it names none; null for every other message. */
function itemEvent(text: string, types: readonly string[]): { type: string; itemId: string | undefined; event: Record<string, unknown> } | null {
  const event = realtimeEvent(text, types);
  if (event === undefined) return null;
  return { type: String(event.type), itemId: typeof event.item_id === 'string' ? event.item_id : undefined, event };
}

const COMMITTED = 'input_audio_buffer.committed';
const CLEARED = 'input_audio_buffer.cleared';
const TRANSCRIPTION_FAILED = 'conversation.item.input_audio_transcription.failed';
const TRANSCRIPTION_COMPLETED = 'conversation.item.input_audio_transcription.completed';
/** An item the upstream added to the conversation (GA), and the beta's name for it. */
const ITEM_ADDED = 'conversation.item.added';
const ITEM_CREATED = 'conversation.item.created';
const AUDIO_BUFFER_EVENTS = [COMMITTED, CLEARED, TRANSCRIPTION_FAILED, TRANSCRIPTION_COMPLETED, ITEM_ADDED, ITEM_CREATED];

/**
 * The id of the item an upstream `conversation.item.added` / `.created` event adds when it is a user
 * message with input audio (undefined when it names no id); null for every other item.
 */
function userAudioItemId(event: Record<string, unknown>): string | undefined | null {
  const item = isObject(event.item) ? event.item : undefined;
  if (item === undefined || item.role !== 'user' || !Array.isArray(item.content)) return null;
  if (!(item.content as unknown[]).some((part) => isObject(part) && part.type === 'input_audio')) return null;
  return typeof item.id === 'string' ? item.id : undefined;
}

/** Whether an upstream message is an event of `type` (response.created, response.done). Parsed only when it may be. */
function isEvent(text: string, type: string): boolean {
  return realtimeEvent(text, type) !== undefined;
}

/** The status of an upgraded connection: its metrics' status_class is `1xx`. */
const SWITCHING_PROTOCOLS = 101;

/** The close code of a session the gateway ends at its maxDuration: it ran its course (OpenAI's own sessions end at 60 minutes). */
export const MAX_DURATION_CLOSE = 1000;
/** The close code of a session whose route or credential a new snapshot took away: policy (RFC 6455 §7.4.1). */
export const REVOKED_CLOSE = 1008;
/** The close code of a session whose ServiceAccount token expired: policy, as a revoked one; the client reconnects with its refreshed token. */
export const TOKEN_EXPIRED_CLOSE = 1008;

/** The credential headers of an upgrade, kept to check the caller's API key against each new snapshot. */
export type Credentials = Partial<Record<'authorization' | 'x-api-key' | 'api-key', string>>;

/** An open session, as a new snapshot checks it. */
export interface OpenSession {
  routeId: string;
  /** The Provider the session is connected to: a new residency policy may exclude it. */
  providerId: string;
  caller: Caller;
  credentials: Credentials;
  /** Told the guardrail decision that ends the session, as the handshake's are. */
  telemetry: RealtimeTelemetry;
  /** Ends it: an error event to the client (`err`), then both sides closed, the client's with `code` and `reason`. */
  end(code: number, err: GatewayError, reason: string): void;
}

/** How long a connection the client closed waits for the upstream's close before it is settled. */
const UPSTREAM_CLOSE_WAIT_MS = 2_000;

/** Why a new snapshot ends an open session: the client's error event and close reason. */
export interface Revocation {
  error: GatewayError;
  reason: string;
}

/** What a session needs of the proxy that opened it. */
export interface SessionHost {
  /** Relays a message through what every connection has queued, bounded (relay-queue.ts). */
  relay(from: WebSocket, to: WebSocket, data: RawData | string, binary: boolean): void;
  readonly usage: UsageSink;
  readonly logger: Logger;
  /** The session is open: checked against each new snapshot, closed by a drain (`goAway`) or ended at its deadline (`end`). */
  opened(client: WebSocket, session: OpenSession, finisher: { goAway: () => void; end: () => void }): void;
  /** The session is being settled: no longer open, nothing of it queued. */
  closing(client: WebSocket, upstream: WebSocket): void;
  /** The session was settled (charged): a drain waiting on it goes on. */
  closed(): void;
}

/** A session both of whose sides are up. */
export interface SessionParams {
  client: WebSocket;
  upstream: WebSocket;
  route: RouteConfig;
  to: ForwardTarget;
  caller: Caller;
  credentials: Credentials;
  /** When the caller's ServiceAccount token expires (ms since the epoch): the session ends then. */
  tokenExpiresAtMs: number | undefined;
  budget: RealtimeBudget;
  /** Gives the session's connection slots back. */
  uncount: () => void;
  /** The prices of a model of a Provider as a route of the session's snapshot targets it (the input transcription's), else undefined. */
  pricingOf: (providerId: string, model: string) => Pricing | undefined;
  telemetry: RealtimeTelemetry;
}

/** Why a new snapshot ends an open session (the client's error event and close reason), or undefined when it may go on. */
export function revocation(session: OpenSession, runtime: RuntimeSnapshot, routes: ReadonlyMap<string, RouteConfig>, auth: Authenticator | undefined): Revocation | undefined {
  const revoked = (status: 401 | 403, message: string, reason: string): Revocation => ({
    error: new GatewayError(status, 'session_revoked', status === 401 ? 'authentication_error' : 'permission_error', `${message}: the session was ended`),
    reason: `session revoked: ${reason}`,
  });
  const route = routes.get(session.routeId);
  if (route === undefined || route.passThrough?.endpoints.includes('realtime') !== true) return revoked(403, `route ${session.routeId} no longer serves Realtime`, 'route removed');
  let caller = session.caller;
  if (caller.kind === 'apikey' && auth !== undefined) {
    const creds = session.credentials;
    // An API key is found in the snapshot's index (no promise); a ServiceAccount's token is not checked again here.
    const now = auth.authenticateNow((name) => creds[name.toLowerCase() as keyof Credentials], runtime.apiKeys);
    if (now instanceof Promise || now.id !== caller.id) return revoked(401, 'the API key of this session was removed or replaced', 'API key removed');
    caller = now;
  }
  if (auth !== undefined && !mayCall(caller, route, runtime.snapshot.namespaces)) return revoked(403, `${caller.id} may no longer call route ${route.id}`, 'access removed');
  const residency = violatedPolicy(callerResidency(caller, route.id, runtime.snapshot.namespaces), runtime.providers.get(session.providerId)?.config);
  if (residency !== undefined) return revoked(403, `the residency of ${caller.id} no longer allows provider ${session.providerId}; policy: ${residency.name}`, `residency excludes provider ${session.providerId}`);
  const guarded = uninspectedVerdict(runtime.snapshot.guardrails ?? [], caller, route.id, 'realtime');
  if (guarded?.refused !== undefined) {
    session.telemetry.guardrails(guarded.decisions);
    // The refusing policy's decision is the only one (uninspected.ts).
    const policy = guarded.decisions[0]?.policy ?? '';
    return revoked(403, `guardrail policy ${policy} now refuses endpoint realtime on route ${route.id}: its rules cannot inspect a Realtime session (spec.uninspectedEndpoints: Refuse)`, `guardrail policy refuses uninspected Realtime: ${policy}`);
  }
  return undefined;
}

/**
 * Runs a session both of whose sides are up: messages relayed both ways (the upstream's error
 * events and close reason scrubbed of the Provider's credentials). A session with no message either
 * way for the route's idle timeout is closed (1001); one that reaches its maxDuration (1000) or its
 * ServiceAccount token's expiry (1008) is ended after an error event. Every `response.done` the
 * upstream sends is metered at the target's prices and charged as it arrives; responses a close cut
 * short are charged their estimate when the session is settled.
 */
export function runSession(host: SessionHost, session: SessionParams): void {
  const { client, upstream, route, to, caller, credentials, tokenExpiresAtMs, budget, uncount, telemetry, pricingOf } = session;
  const { target } = to;
  // The upstream's error events and close reason are its words, which may echo the Provider's credential.
  const secrets = providerSecrets(to.provider.config);
  const started = Date.now();
  const idleMs = route.passThrough?.realtime.idleTimeoutMs ?? 60_000;
  const total: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  // The session's cost is the sum of its responses' costs: the token sums alone lose which were audio.
  let totalCost = 0;
  let messages = 0;
  let responses = 0;
  // Responses the upstream started and has not reported done, and the input of the last one it
  // did: a response cut by a close is charged at least that input (the conversation only grows).
  let unfinished = 0;
  let lastInput: Usage | undefined;
  // What the client sent: before any response reported its usage, a cut one is charged its
  // estimate; every hold is given its upper bound (sent-input.ts).
  const sent = new SentInput(target.model);
  // Input transcriptions the upstream has not reported: each held, and charged its bound if it never is.
  const transcriptions = new PendingTranscriptions();
  const idle = setTimeout(() => {
    client.close(1001, `idle for ${idleMs} ms`);
    upstream.close(1001, 'client idle');
  }, idleMs);
  const touch = (): void => void idle.refresh();
  /** Ends the session from the gateway's side: the client is told why (an error event), then both sides close. */
  const end = (code: number, err: GatewayError, reason: string): void => {
    if (client.readyState !== client.OPEN) return;
    client.send(gatewayErrorEvent(err));
    client.close(code, closeReason(reason));
    // The upstream's close settles the connection: what it still says (a response.done) is charged as reported.
    if (upstream.readyState === upstream.OPEN) upstream.close(1000, 'session ended by the gateway');
  };
  const maxDurationMs = route.passThrough?.realtime.maxDurationMs ?? DEFAULT_REALTIME_MAX_DURATION_MS;
  // The session ends at the first of its maxDuration and its ServiceAccount token's expiry (one
  // timer: a token's expiry past maxDuration, up to a year away, is never armed).
  const tokenLeftMs = tokenExpiresAtMs === undefined ? undefined : Math.max(0, tokenExpiresAtMs - started);
  const lifetime =
    tokenLeftMs !== undefined && tokenLeftMs < maxDurationMs
      ? setTimeout(() => {
          // Before, the session outlived its token for as long as maxDuration allowed.
          end(TOKEN_EXPIRED_CLOSE, new GatewayError(401, 'token_expired', 'authentication_error', `the ServiceAccount token of this session (${caller.id}) expired at ${new Date(tokenExpiresAtMs ?? started).toISOString()}: the session was ended; reconnect with a fresh token`), 'ServiceAccount token expired');
        }, tokenLeftMs)
      : setTimeout(() => {
          // However busy: before, a session that kept sending within the idle timeout never ended.
          end(MAX_DURATION_CLOSE, new GatewayError(408, 'session_expired', 'invalid_request_error', `the session reached its maximum duration of ${formatMs(maxDurationMs)} (route ${route.id}, spec.passThrough.realtime.maxDuration); open a new one`), `maximum session duration ${formatMs(maxDurationMs)} reached`);
        }, maxDurationMs);
  const open: OpenSession = { routeId: route.id, providerId: target.providerId, caller, credentials, telemetry, end };

  client.on('message', (data: RawData, isBinary: boolean) => {
    touch();
    messages++;
    const text = isBinary ? undefined : messageText(data);
    if (text !== undefined) {
      // An item created with audio is transcribed too: awaited until the upstream adds it.
      const item = sent.note(text);
      if (item !== undefined) transcriptions.clientCreated(item);
      // The audio sent before a clear is transcribed by no item: noted as it comes, in the order relayed.
      if (text.includes('"input_audio_buffer.clear"') && realtimeEvent(text, 'input_audio_buffer.clear') !== undefined) transcriptions.clientCleared(sent.audioSeconds);
    }
    // A response.create goes upstream only while the Budgets can hold it (realtime-budget.ts).
    budget.fromClient(text, sent.bound(), () => {
      if (upstream.readyState === upstream.OPEN) host.relay(client, upstream, data, isBinary);
    });
  });
  upstream.on('message', (data: RawData, isBinary: boolean) => {
    touch();
    messages++;
    const text = isBinary ? undefined : messageText(data);
    // Once the connection was settled nothing more is charged: its Budgets have been told the total.
    if (text !== undefined && !closed) {
      const usage = realtimeUsage(text);
      if (usage !== undefined && usageProblem(usage) === 'invalid') {
        // Counts that cannot be true (negative ones credited the Budgets) are not priced: the
        // response is charged the input estimate, as one a close cut short, its record marked invalid.
        unfinished = Math.max(0, unfinished - 1);
        charge(lastInput ?? sent.usage() ?? NO_TOKENS, 'invalid');
        sent.ended(responseIdOf(text));
        budget.done(text);
      } else if (usage !== undefined) {
        unfinished = Math.max(0, unfinished - 1);
        lastInput = inputOf(usage);
        sent.reported(responseIdOf(text), usage);
        charge(usage, undefined);
        budget.done(text);
      } else if (isEvent(text, 'response.done')) {
        // Ended without usage (failed, cancelled before it ran): not cut by a close.
        unfinished = Math.max(0, unfinished - 1);
        sent.ended(responseIdOf(text));
        budget.done(text);
      } else if (isEvent(text, 'response.created')) {
        unfinished++;
        sent.started(responseIdOf(text));
        budget.started(text, sent.bound());
      } else if (isEvent(text, 'error')) {
        transcriptions.refused(refusedEventId(text));
        // The upstream's error about the gateway's own response.cancel: the client never sent one.
        if (budget.failed(text)) return;
      } else {
        const transcribed = transcriptionUsage(text);
        const buffer = transcribed === undefined ? itemEvent(text, AUDIO_BUFFER_EVENTS) : null;
        if (transcribed !== undefined) {
          transcriptions.ended(transcribed.itemId);
          chargeTranscription(transcribed);
        } else if (buffer?.type === COMMITTED) {
          transcriptionCommitted(buffer.itemId);
        } else if (buffer?.type === CLEARED) {
          transcriptions.cleared();
        } else if (buffer?.type === ITEM_ADDED || buffer?.type === ITEM_CREATED) {
          const added = userAudioItemId(buffer.event);
          if (added !== null) transcriptionPending(transcriptions.added(added, transcriptionModel));
        } else if (buffer?.type === TRANSCRIPTION_FAILED || buffer?.type === TRANSCRIPTION_COMPLETED) {
          // The model was sent the audio: what it bills for a failure (or a completion without usage) is not reported, so its bound is charged.
          const failed = transcriptions.ended(buffer.itemId);
          if (failed !== undefined) chargeUnreportedTranscription(failed);
        } else {
          sent.noteSession(text);
          budget.fromUpstream(text);
          const model = inputTranscriptionModel(text);
          if (model !== undefined) transcriptionModel = model ?? undefined;
        }
      }
      if (unfinished > 0 && budget.cutsStreams) {
        // A running response costs at least the input it reads: what a Budget that cuts streams is asked.
        const soFar = lastInput ?? sent.usage() ?? NO_TOKENS;
        budget.watch({ usage: soFar, costUsd: costUsd(soFar, target.pricing) });
      }
    }
    if (client.readyState !== client.OPEN) return;
    const error = text === undefined ? undefined : scrubbedError(text, secrets);
    host.relay(upstream, client, error ?? data, error === undefined && isBinary);
  });
  const charge = (usage: Usage, estimated: 'cut_short' | 'invalid' | 'transcription_unreported' | undefined, cost = costUsd(usage, target.pricing), model = target.model): void => {
    responses++;
    const rec = usageRecord(`${route.id}:${started}:${responses}`, 'realtime', route, { providerId: target.providerId, model }, true, usage, cost, estimated);
    // Totals from the record: it never carries a negative count or cost.
    total.inputTokens += rec.inputTokens;
    total.outputTokens += rec.outputTokens;
    total.cachedInputTokens += rec.cachedInputTokens;
    totalCost += rec.costUsd;
    host.usage.record(rec);
    telemetry.metered(rec);
    // Each response is charged to the Budgets and token limits as it ends, not at the close.
    budget.charge({ inputTokens: rec.inputTokens, outputTokens: rec.outputTokens, cachedInputTokens: rec.cachedInputTokens }, rec.costUsd);
  };
  /**
   * The session's input transcription (a model the client set with session.update), billed by the
   * upstream apart from its responses: charged as its completed event reports it, held while it is
   * pending and charged its bound when it is never reported. At that model's prices where the
   * snapshot has them (a route targets it on the session's Provider, priced); else at the dearest of
   * the session target's (every input token at its dearest input price, every output token at its
   * dearest output price, and its `perAudioSecond` price where that is more): never under what an
   * unknown transcription model may bill, since a Realtime model's audio is dearer than a
   * transcription model's. Before, the hold was priced at the route's prices whatever the model,
   * and a charge of an unknown model at the session target's text prices for its transcript (a
   * Realtime mini model's $2.40/M against gpt-4o-transcribe's $10/M).
   */
  let transcriptionModel: string | undefined;
  const transcriptionPricing = (model: string): Pricing | undefined => {
    const pricing = pricingOf(target.providerId, model);
    return pricing !== undefined && isPriced(pricing) ? pricing : undefined;
  };
  /** `usage` of a transcription by `model` (`seconds` of audio, when known), at its prices, else at the dearest of the session target's. */
  const transcriptionCost = (model: string, usage: Usage, seconds: number | undefined): number => {
    const pricing = transcriptionPricing(model);
    const perSecond = (pricing ?? target.pricing).perAudioSecondUsd;
    const bySecond = perSecond === undefined || seconds === undefined ? undefined : Math.ceil(seconds * perSecond * 1e8) / 1e8;
    if (pricing !== undefined) return bySecond ?? costUsd(usage, pricing);
    // Its audio tokens not apart: the unknown model's audio price may be the dearest input price.
    return Math.max(bySecond ?? 0, worstCostUsd({ inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: 0 }, target.pricing));
  };
  const chargeTranscription = (transcribed: { tokens: Usage } | { seconds: number }): void => {
    const model = transcriptionModel ?? target.model;
    if ('tokens' in transcribed) return charge(transcribed.tokens, undefined, transcriptionCost(model, transcribed.tokens, undefined), model);
    const usage = transcriptionSecondsAsTokens(transcribed.seconds);
    charge(usage, undefined, transcriptionCost(model, usage, transcribed.seconds), model);
  };
  /**
   * A committed item of a session with an input transcription model: pending until its transcription
   * is reported, held meanwhile at its bound (the audio sent since the last commit).
   */
  const transcriptionCommitted = (itemId: string | undefined): void => transcriptionPending(transcriptions.committed(itemId, sent.audioSeconds, transcriptionModel));
  /**
   * A transcription pending from now (a committed item's, or an item with audio the client created):
   * held at its bound, at the model's prices when known, else at the route's dearest.
   */
  const transcriptionPending = (kept: { itemId: string; pending: PendingTranscription } | undefined): void => {
    if (kept === undefined) return;
    const bound = transcriptionBound(kept.pending.seconds);
    const pricing = transcriptionPricing(kept.pending.model);
    const priced = pricing === undefined ? undefined : { model: kept.pending.model, pricing };
    budget.holdApart(bound.inputTokens, bound.outputTokens, kept.pending.seconds, (hold) => transcriptions.held(kept.itemId, kept.pending, hold), priced);
  };
  /**
   * A transcription that failed, or that the session ended before it was reported: the model was sent
   * the audio and bills for it, never saying how much. Charged its bound, marked
   * `transcription_unreported`: at the model's `perAudioSecond` price for the audio committed, else
   * that audio at 20 tokens a second and a transcript of 32 tokens a second (and 16 more) at its
   * dearest prices (an unknown model's: the dearer of those and the session target's
   * `perAudioSecond`). Before, nothing.
   */
  const chargeUnreportedTranscription = (pending: PendingTranscription): void => {
    const pricing = transcriptionPricing(pending.model);
    const perSecond = (pricing ?? target.pricing).perAudioSecondUsd;
    const bySecond = perSecond === undefined ? undefined : Math.ceil(pending.seconds * perSecond * 1e8) / 1e8;
    if (pricing !== undefined && bySecond !== undefined) return charge(transcriptionSecondsAsTokens(pending.seconds), 'transcription_unreported', bySecond, pending.model);
    const bound = transcriptionBound(pending.seconds);
    charge(bound, 'transcription_unreported', Math.max(bySecond ?? 0, worstCostUsd({ inputTokens: bound.inputTokens, outputTokens: bound.outputTokens, cachedInputTokens: 0 }, pricing ?? target.pricing)), pending.model);
  };
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(idle);
    clearTimeout(lifetime);
    host.closing(client, upstream);
    uncount();
    // The upstream may have billed the responses a close cut short, never saying how much: each is
    // charged its worst case (realtime-budget.ts cutShort), at the dearest prices as its hold was.
    // Before, the input estimate with no output: under what the upstream may bill.
    for (const worst of budget.cutShort(MAX_UNFINISHED_CHARGED)) charge(worst, 'cut_short', worstCostUsd(worst, target.pricing));
    for (const pending of transcriptions.close()) chargeUnreportedTranscription(pending);
    // Every response was charged as it ended (or just now, cut): nothing is left to settle.
    budget.close();
    telemetry.closed(SWITCHING_PROTOCOLS);
    host.logger.info(
      { route: route.id, caller: caller.id, provider: target.providerId, upstreamModel: target.model, durationMs: Date.now() - started, messages, responses, inputTokens: total.inputTokens, outputTokens: total.outputTokens, costUsd: Math.round(totalCost * 1e8) / 1e8 },
      'realtime connection closed',
    );
    host.closed();
  };
  host.opened(client, open, {
    goAway: () => {
      client.close(1001, 'gateway shutting down');
      upstream.close(1001, 'gateway shutting down');
    },
    end: () => {
      finish();
      client.terminate();
      upstream.terminate();
    },
  });
  client.on('close', (code, reason) => {
    if (upstream.readyState === upstream.CLOSED) return finish();
    // What the upstream says before its close frame (a response.done on its way) is charged as
    // reported, not as an estimate; an upstream that does not close is not waited for long. One
    // already closing (a drain closes both sides) is waited for the same.
    if (upstream.readyState !== upstream.CLOSING) upstream.close(sendableCode(code), reason);
    setTimeout(finish, UPSTREAM_CLOSE_WAIT_MS).unref();
  });
  upstream.on('close', (code, reason) => {
    finish();
    if (client.readyState === client.OPEN) client.close(sendableCode(code), scrubbedReason(reason, secrets));
  });
  client.on('error', () => client.terminate());
  upstream.resume();
  upstream.on('error', () => {
    upstream.terminate();
    if (client.readyState === client.OPEN) client.close(1011, 'upstream failed');
  });
}
