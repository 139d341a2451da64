import type { HeaderLookup } from '../runtime/rule-matcher.js';
import type { RuntimeRoute, RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { RouteConfig, TargetConfig } from '../config/snapshot.js';
import { outputCap } from '../governance/admission.js';
import { ANONYMOUS, type Caller } from '../core/caller.js';
import { type AdmissionRequest, type CachedResponse, type Settlement } from '../governance/types.js';
import type { StreamMeter } from '../metering/stream-meter.js';
import { estimatePromptTokens, type PromptMedia, type PromptParts, promptTokensOn } from '../metering/token-estimate.js';
import type { BilledUnits } from '../metering/cost.js';
import { toolFeeUnits } from '../metering/container-sessions.js';
import type { CanonicalRequest, JsonObject, Usage } from '../core/canonical.js';
import type { ClientLink } from '../routing/client-link.js';
import type { RouteOutcome } from '../routing/router.js';
import type { RouteDecision } from '../routing/rules/route-decision.js';
import type { AttemptObserver, TraceIds } from '../telemetry/gateway-observer.js';
import { RequestEvents } from './request-events.js';

export type StreamOutcome = Extract<RouteOutcome, { kind: 'stream' }>;

/** What is written back to the client, in whatever inbound dialect. */
export type Reply =
  /** A complete upstream response (canonical body) and the usage charged for it. */
  | { kind: 'response'; body: JsonObject; usage: Usage }
  /** A started upstream stream; the meter sees every chunk written. */
  | { kind: 'stream'; outcome: StreamOutcome; meter: StreamMeter; idleMs: number }
  /** A response served from the cache: nothing was sent upstream. */
  | { kind: 'cached'; cached: CachedResponse };

/** Writes `ctx.reply` to the client (the inbound dialect's write-back); resolves when it is written. */
export type Respond = (ctx: RequestContext) => Promise<void>;

export interface RequestContextInit {
  /** Pinned: the request finishes on this snapshot even if a newer one is applied meanwhile. */
  runtime: RuntimeSnapshot;
  /** Reads and parses the body in the client's dialect (bounded; throws a GatewayError); the parse stage calls it. */
  readRequest: () => Promise<CanonicalRequest>;
  requestId: string;
  header: HeaderLookup;
  /** The client: gone or not, and a signal made when something must stop with it. */
  client: ClientLink;
  respond: Respond;
  /** Per-attempt telemetry (traces, metrics); none when the request is not observed. */
  attempts?: AttemptObserver;
  /** Whether this request may be answered from (and stored in) the response cache. */
  cacheable?: boolean;
  /** The request's trace ids (capture records carry them); none when the request is not traced. */
  trace?: { traceIds(): TraceIds | undefined };
}

/** What a chat request with `web_search_options` holds for its search (one object, never written to). */
const SEARCH_ASKED: BilledUnits = Object.freeze({
  requests: 0,
  images: 0,
  audioSeconds: 0,
  characters: 0,
  toolCalls: Object.freeze({ calls: 1, webSearch: true, fileSearch: false, containerGb: 0, autoContainers: 0 }),
});

/**
 * One request on its way through the stages (pipeline/stage-list.ts): what it is, who sent it, where
 * it goes, what it was admitted with and what it is answered with. Stages read what earlier stages
 * set and report through `events`; nothing about a request lives anywhere else.
 */
export class RequestContext {
  readonly runtime: RuntimeSnapshot;
  readonly readRequest: () => Promise<CanonicalRequest>;
  readonly requestId: string;
  readonly header: HeaderLookup;
  readonly client: ClientLink;
  readonly events = new RequestEvents();
  readonly attempts: AttemptObserver | undefined;
  readonly cacheable: boolean;
  readonly trace: { traceIds(): TraceIds | undefined } | undefined;
  private readonly write: Respond;

  /** Set by identify (anonymous until then, and always without identity). */
  caller: Caller = ANONYMOUS;
  /** Set by match-route: the route that matched the model and headers, or the one to name in a refusal. */
  selection: { route: RuntimeRoute; denied: boolean } | undefined;
  /** Set by access: the route that serves. */
  route: RuntimeRoute | undefined;
  /** Set by access: the rule and the ordered targets. */
  decision: RouteDecision | undefined;
  /** Response headers the stages add (rate-limit and budget headers, route, provider, cost…). */
  readonly headers: Record<string, string> = {};
  /** Keeps a complete answer in the route's cache (set by the cache stage on a miss). */
  store: ((value: CachedResponse) => void) | undefined;
  /** Reasons to cut a running stream (a budget's hard cap), asked with the cost so far. */
  readonly guards: ((soFar: Settlement) => string | undefined)[] = [];
  /** Set by serve: the target that was sent the request, and what it answered (none when the client left first). */
  served: { target: TargetConfig; outcome: RouteOutcome | undefined; sentAt?: number } | undefined;
  /** Set by meter: what the request really used; admission stages settle with it (nothing when unset). */
  settlement: Settlement | undefined;
  /** Attempts the upstream may have billed though they served nobody (timed out after sending, an answer too large): charged too. */
  lostAttempts: { target: TargetConfig; billed: 'prompt' | 'worstCase'; ranMs?: number | undefined }[] | undefined;
  /** Run in order just before the reply is written (a guardrail's response rules); may replace `reply` or throw a refusal. */
  readonly beforeReply: ((ctx: RequestContext) => Promise<void>)[] = [];
  /** What is written back; set by the stage that answers (cache on a hit, meter after serve). */
  reply: Reply | undefined;
  private prompt: number | undefined;
  private promptAudio = 0;
  /** The prompt's files, images and inline PDFs (PromptParts.media), when it has any: held per target by Budgets. */
  private promptMedia: PromptMedia | undefined = undefined;
  /** The estimate with images counted from below (PromptParts.windowTokens), when the prompt has images. */
  private promptWindow: number | undefined = undefined;
  private parsed: CanonicalRequest | undefined;
  /** The last admissionRequest(): rate limits and budgets ask for the same one. */
  private admission: AdmissionRequest | undefined;

  constructor(init: RequestContextInit) {
    this.runtime = init.runtime;
    this.readRequest = init.readRequest;
    this.requestId = init.requestId;
    this.header = init.header;
    this.client = init.client;
    this.write = init.respond;
    this.attempts = init.attempts;
    this.cacheable = init.cacheable === true;
    this.trace = init.trace;
  }

  /** Aborts when the client goes away (made on first use: see ClientLink). */
  get signal(): AbortSignal {
    return this.client.signal;
  }

  /** The request in canonical form; set by the parse stage. */
  get request(): CanonicalRequest {
    if (this.parsed === undefined) throw new Error('no request yet: the parse stage has not run');
    return this.parsed;
  }

  set request(request: CanonicalRequest) {
    this.parsed = request;
  }

  /** The public model name asked for. */
  get model(): string {
    return String(this.request.body.model);
  }

  /** The route that serves; only after the access stage. */
  get routeConfig(): RouteConfig {
    if (this.route === undefined) throw new Error('no route yet: the access stage has not run');
    return this.route.config;
  }

  /** Cheap prompt-token estimate (metering/token-estimate), computed once. */
  get promptTokens(): number {
    return this.prompt ?? this.estimatePrompt();
  }

  /** What the context-window guard and routing rules read: promptTokens with images at their fewest tokens (token-estimate IMAGE_WINDOW_TOKENS). */
  get windowPromptTokens(): number {
    const tokens = this.promptTokens;
    return this.promptWindow ?? tokens;
  }

  /**
   * The prompt estimate on `target` (metering/token-estimate promptTokensOn: images at its model's
   * bound, files named by id, at most its window): what an estimate of a request served or lost there
   * is charged. The estimate itself without media or target.
   */
  promptTokensOn(target: TargetConfig | undefined): number {
    const tokens = this.promptTokens;
    return target === undefined ? tokens : promptTokensOn(target, tokens, this.promptMedia);
  }

  /** Of promptTokens, the audio ones (input_audio parts): what the gateway charges from its estimate prices them as audio. */
  get promptAudioTokens(): number {
    if (this.prompt === undefined) this.estimatePrompt();
    return this.promptAudio;
  }

  private estimatePrompt(): number {
    const audio: PromptParts = { tokens: 0 };
    const tokens = estimatePromptTokens(this.request.body, audio);
    this.prompt = tokens;
    this.promptAudio = audio.tokens;
    if (audio.media !== undefined) this.promptMedia = audio.media;
    if (audio.windowTokens !== undefined) this.promptWindow = audio.windowTokens;
    return tokens;
  }

  /** What admission (rate limits, budgets) sees of the request on `route`. */
  admissionRequest(route: RouteConfig = this.routeConfig): AdmissionRequest {
    const last = this.admission;
    if (last !== undefined && last.route === route && last.caller === this.caller && last.req === this.parsed && last.promptTokens === this.promptTokens) return last;
    const providers = this.runtime.providers;
    const targetDefault = (t: TargetConfig): number | undefined => {
      const provider = providers.get(t.providerId);
      return provider?.adapter.defaultOutputCap?.(provider.config);
    };
    const promptTokens = this.promptTokens;
    const admission: AdmissionRequest & { media?: PromptMedia; units?: BilledUnits } = { caller: this.caller, route, req: this.request, promptTokens, maxOutputTokens: outputCap(this.request, route, promptTokens, targetDefault), budgets: this.runtime.snapshot.budgets };
    // Only on a request with media: the ordinary request's admission keeps its shape.
    if (this.promptMedia !== undefined) admission.media = this.promptMedia;
    // Only on a Responses request with tools: the fees of the calls it bounds and of the auto
    // containers it asks for are held too.
    const native = this.request.native;
    if (native?.api === 'responses' && Array.isArray(native.body.tools)) {
      const units = toolFeeUnits(native.body);
      if (units !== undefined) admission.units = units;
    } else if (native === undefined && this.request.op === 'chat' && this.request.body.web_search_options !== undefined && this.request.body.web_search_options !== null) {
      // A chat request asking a search model to search is billed the search, certain: held too.
      admission.units = SEARCH_ASKED;
    }
    this.admission = admission;
    return this.admission;
  }

  /** The router's BilledLosses: the context is the sink, so that no closure is made per request. */
  lostAttempt(target: TargetConfig, billed: 'prompt' | 'worstCase', ranMs?: number): void {
    (this.lostAttempts ??= []).push({ target, billed, ranMs });
  }

  /** The first guard's reason to cut the stream now, if any. */
  overBudget(soFar: Settlement): string | undefined {
    for (const guard of this.guards) {
      const reason = guard(soFar);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }

  /** Writes `reply` back to the client (the end of the stage list, or a stage that answers itself). */
  respond(): Promise<void> {
    // Most requests have no check before their reply: no async frame for them.
    return this.beforeReply.length === 0 ? this.write(this) : this.checkThenWrite();
  }

  private async checkThenWrite(): Promise<void> {
    for (const check of this.beforeReply) await check(this);
    return this.write(this);
  }
}
