import type { z } from 'zod';
import type {
  AccessConfig,
  CacheConfig,
  RateLimitConfig,
  RouteConfig,
  RuleConditionsConfig,
  RuleConfig,
  TargetConfig,
} from '../../dataplane/config/snapshot.js';
import { BackoffSchema, type ModelRoute, RetrySchema, type Strategy, TimeoutsSchema } from '../api/model-route.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import type { CompiledProvider } from './compile-providers.js';
import { durationToMs } from '../api/duration.js';
import type { ModelPricingSchema } from '../api/provider.js';
import { DEFAULT_REALTIME_IDLE_MS, DEFAULT_REALTIME_MAX_CONNECTIONS, DEFAULT_REALTIME_MAX_DURATION_MS, defaultRealtimePerCaller } from '../../dataplane/config/pass-through-endpoints.js';
import { type LabelSelector, matchesSelector } from '../../dataplane/config/label-selector.js';
import { compareIds } from '../../dataplane/config/id-order.js';
import { routeRefusal } from './publishable.js';
import { passThroughServedCondition } from './pass-through-served.js';
import type { CompileInput, ComputedCondition, ObjectStatus } from './types.js';
import { runToEnd, type Steps } from '../../dataplane/config/sliced.js';

const RETRY_DEFAULTS = RetrySchema.parse({});
const BACKOFF_DEFAULTS = BackoffSchema.parse({});
const TIMEOUT_DEFAULTS = TimeoutsSchema.parse({});

type RouteRuleSpec = NonNullable<ModelRoute['spec']['rules']>[number];

function creationSeconds(route: ModelRoute): number {
  const ts = route.metadata.creationTimestamp;
  const ms = ts === undefined ? Number.NaN : Date.parse(ts);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/** Platform namespaces' routes first, then older first; namespace/name breaks ties, as in Gateway API. */
function precedence(platform: ReadonlySet<string> | undefined, a: ModelRoute, b: ModelRoute, seconds: ReadonlyMap<ModelRoute, number>): number {
  // A platform namespace's route comes before any tenant's: a tenant's older route open to all
  // cannot take the callers of a public name the platform serves (a squat on `gpt-4o`).
  const pa = platform?.has(a.metadata.namespace ?? 'default') === true;
  const pb = platform?.has(b.metadata.namespace ?? 'default') === true;
  if (pa !== pb) return pa ? -1 : 1;
  const byAge = (seconds.get(a) ?? creationSeconds(a)) - (seconds.get(b) ?? creationSeconds(b));
  if (byAge !== 0) return byAge;
  return compareIds(idOf(a), idOf(b));
}

function idOf(route: ModelRoute): string {
  return `${route.metadata.namespace ?? 'default'}/${route.metadata.name}`;
}

/**
 * Claude bills prompt-cache writes above input (1.25× for five minutes, 2× for an hour): on the
 * Provider types that serve it, those are the defaults, so that a Provider that sets only input and
 * output is not under-charged when a client asks for caching (cache_control). Elsewhere a write is
 * priced as input unless the model says otherwise.
 */
const CLAUDE_CACHE_WRITE = { fiveMinutes: 1.25, hour: 2 } as const;
const CLAUDE_SERVING_TYPES: ReadonlySet<string> = new Set(['anthropic', 'bedrock']);

function cacheWritePrices(type: string, pricing: { input?: number; cacheWrite?: number; cacheWrite1h?: number } | undefined): Partial<TargetConfig['pricing']> {
  const input = pricing?.input ?? 0;
  const claude = CLAUDE_SERVING_TYPES.has(type);
  const out: Partial<TargetConfig['pricing']> = {};
  const write = pricing?.cacheWrite ?? (claude ? input * CLAUDE_CACHE_WRITE.fiveMinutes : undefined);
  if (write !== undefined) out.cacheWriteInputPerMTok = write;
  const hour = pricing?.cacheWrite1h ?? (claude ? input * CLAUDE_CACHE_WRITE.hour : undefined);
  if (hour !== undefined) out.cacheWrite1hInputPerMTok = hour;
  return out;
}

/** The optional prices a model sets (long-context tiers, audio and image tokens, built-in tool calls; per-request and per-unit for pass-through endpoints), in the snapshot's names. */
function optionalPrices(type: string, pricing: z.infer<typeof ModelPricingSchema> | undefined): Partial<TargetConfig['pricing']> {
  const out: Partial<TargetConfig['pricing']> = {};
  const long = pricing?.longContext;
  if (long !== undefined) {
    out.longContext = { aboveInputTokens: long.above, inputPerMTok: long.input, outputPerMTok: long.output, cachedInputPerMTok: long.cachedInput ?? long.input, ...cacheWritePrices(type, long) };
  }
  if (pricing?.audioInput !== undefined) out.audioInputPerMTok = pricing.audioInput;
  if (pricing?.audioOutput !== undefined) out.audioOutputPerMTok = pricing.audioOutput;
  if (pricing?.imageInput !== undefined) out.imageInputPerMTok = pricing.imageInput;
  if (pricing?.imageOutput !== undefined) out.imageOutputPerMTok = pricing.imageOutput;
  if (pricing?.perRequest !== undefined) out.perRequestUsd = pricing.perRequest;
  if (pricing?.perWebSearch !== undefined) out.perWebSearchUsd = pricing.perWebSearch;
  if (pricing?.perFileSearch !== undefined) out.perFileSearchUsd = pricing.perFileSearch;
  if (pricing?.perContainer !== undefined) out.perContainerUsd = pricing.perContainer;
  if (pricing?.perImage !== undefined) out.perImageUsd = pricing.perImage;
  if (pricing?.perAudioSecond !== undefined) out.perAudioSecondUsd = pricing.perAudioSecond;
  if (pricing?.perMillionCharacters !== undefined) out.perMCharactersUsd = pricing.perMillionCharacters;
  if (pricing?.perVideoSecond !== undefined) out.perVideoSecondUsd = pricing.perVideoSecond;
  if (pricing?.batch !== undefined) out.batchMultiplier = pricing.batch;
  if (pricing?.training !== undefined) out.trainingPerMTok = pricing.training;
  if (pricing?.reasoningTokensPerSecond !== undefined) out.reasoningTokensPerSecond = pricing.reasoningTokensPerSecond;
  return out;
}

/** Names a message lists at most: a Provider may serve hundreds of models, and each failing target says which. */
const MAX_LISTED_NAMES = 16;

function listed(names: readonly string[]): string {
  return names.length <= MAX_LISTED_NAMES ? names.join(', ') : `${names.slice(0, MAX_LISTED_NAMES).join(', ')} and ${names.length - MAX_LISTED_NAMES} more`;
}

/** Whether a Provider's allowedRoutes admits objects (routes, guardrail moderation) of a namespace. */
export function admits(provider: CompiledProvider, routeNamespace: string, namespaceLabels: Map<string, Record<string, string>>): boolean {
  const providerNamespace = provider.source.metadata.namespace ?? 'default';
  if (providerNamespace === routeNamespace) return true;
  const allowed = provider.source.spec.allowedRoutes?.namespaces;
  if (allowed === undefined || allowed.from === 'Same') return false;
  if (allowed.from === 'All') return true;
  return matchesSelector(allowed.selector ?? {}, namespaceLabels.get(routeNamespace) ?? {});
}

/**
 * What a namespace is told about another namespace's Provider it cannot use: one answer whether the
 * Provider is absent or does not admit it, and nothing of its allowedRoutes. Before, the two reasons
 * told a tenant which Providers exist elsewhere, and the selector's labels (a platform's or another
 * team's) were spelled out in its route's status.
 */
export function unavailableProvider(providerId: string, ns: string): string {
  return `Provider ${providerId} not found, or it does not admit namespace ${ns} (its allowedRoutes, which the owner of its namespace sets)`;
}

/**
 * Whether a namespace's objects may be told about other namespaces' objects: a platform namespace's
 * (its team reads every namespace's anyway), or every one when there are none (manifests on disk have one author).
 */
export const seesOthers = (platform: ReadonlySet<string> | undefined, ns: string): boolean => platform === undefined || platform.has(ns);

/**
 * What a caller may learn about a missing target: the reason and the Provider, never the details
 * (Secret names, namespace labels), which belong to the route's status.
 */
function forCallers(p: Problem): string {
  return `${p.rule === undefined ? '' : `rule ${p.rule}: `}${p.reason} (${p.ref ?? 'target'}); the ModelRoute's ResolvedRefs condition says why`;
}

/** Why a Provider refuses a route's namespace, and what would change that. */
function notPermitted(provider: CompiledProvider, providerId: string, ns: string): string {
  const allowed = provider.source.spec.allowedRoutes?.namespaces;
  const base = `Provider ${providerId} does not allow routes from namespace ${ns}`;
  if (allowed?.from !== 'Selector') {
    return `${base} (allowedRoutes.namespaces.from: ${allowed?.from ?? 'Same'}); set it to All, or to Selector with a selector namespace ${ns} matches`;
  }
  const selector = allowed.selector ?? {};
  const labels = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const fix = (selector.matchExpressions ?? []).length === 0 && labels.length > 0 ? `kubectl label namespace ${ns} ${labels.join(' ')}` : `label namespace ${ns} to match`;
  return `${base}: allowedRoutes.namespaces.selector wants ${describeSelector(selector)} on the route's namespace; ${fix}`;
}

function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    parts.push(e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator.toLowerCase()} (${values})`);
  }
  return parts.length === 0 ? 'any labels' : `the label(s) ${parts.join(', ')}`;
}

type TargetSpec = NonNullable<ModelRoute['spec']['targets']>[number];

function resolveTargets(
  route: ModelRoute,
  specs: readonly TargetSpec[],
  strategy: Strategy,
  providers: Map<string, CompiledProvider>,
  namespaceLabels: Map<string, Record<string, string>>,
  platform: ReadonlySet<string> | undefined,
): { targets: TargetConfig[]; problems: Problem[] } {
  const ns = route.metadata.namespace ?? 'default';
  const targets: TargetConfig[] = [];
  const problems: Problem[] = [];
  for (const t of specs) {
    const providerId = `${t.providerRef.namespace ?? ns}/${t.providerRef.name}`;
    const provider = providers.get(providerId);
    if ((provider === undefined || !admits(provider, ns, namespaceLabels)) && (t.providerRef.namespace ?? ns) !== ns && !seesOthers(platform, ns)) {
      problems.push({ reason: 'RefNotPermitted', message: unavailableProvider(providerId, ns), ref: providerId });
      continue;
    }
    if (provider === undefined) {
      problems.push({ reason: 'ProviderNotFound', message: `Provider ${providerId} not found`, ref: providerId });
      continue;
    }
    if (!admits(provider, ns, namespaceLabels)) {
      problems.push({ reason: 'RefNotPermitted', message: notPermitted(provider, providerId, ns), ref: providerId });
      continue;
    }
    if (provider.config === undefined) {
      problems.push({ reason: 'ProviderNotReady', message: `Provider ${providerId} is not usable: ${provider.notReady ?? 'unknown'}`, ref: providerId });
      continue;
    }
    const models = provider.source.spec.models ?? [];
    const model = models.find((m) => m.name === t.model);
    if (models.length > 0 && model === undefined) {
      problems.push({
        reason: 'ModelNotServed',
        message: `Provider ${providerId} does not serve model ${t.model} (it serves ${listed(models.map((m) => m.name))})`,
        ref: providerId,
      });
      continue;
    }
    const target: TargetConfig = {
      providerId,
      model: t.model,
      priority: t.priority,
      weight: strategy === 'weighted' ? (t.weight ?? 1) : 1,
      pricing: {
        inputPerMTok: model?.pricing?.input ?? 0,
        outputPerMTok: model?.pricing?.output ?? 0,
        cachedInputPerMTok: model?.pricing?.cachedInput ?? model?.pricing?.input ?? 0,
        ...cacheWritePrices(provider.source.spec.type, model?.pricing),
        ...optionalPrices(provider.source.spec.type, model?.pricing),
      },
    };
    const gpu = provider.source.spec.vllm?.gpuPricing;
    if (gpu !== undefined) target.pricing.podSecondUsd = gpu.perGpuSecond * gpu.gpusPerPod;
    if (model?.contextWindow !== undefined) target.contextWindow = model.contextWindow;
    const caps = model?.capabilities;
    const lacks = caps === undefined ? [] : (['tools', 'vision', 'jsonSchema'] as const).filter((c) => caps[c] === false);
    if (lacks.length > 0) target.lacks = lacks;
    targets.push(target);
  }
  return { targets, problems };
}

/**
 * Whether every target has a price: one with no token, unit or GPU-time price is charged $0 (its
 * model listed without `pricing`, or not listed), and a USD Budget never moves for what it serves.
 * Before, nothing said so. False (a Warning Event on the flip) names those targets; the route serves.
 * Prices set explicitly are prices even when all zero: a self-hosted model free on purpose.
 */
function pricedCondition(targets: readonly TargetConfig[], providers: Map<string, CompiledProvider>, problems: readonly Problem[], gen: number | undefined): ComputedCondition {
  // Only resolved targets can be judged: with none, "every target has prices" said something true
  // of targets that do not exist (a route whose Provider was deleted).
  if (targets.length === 0) {
    const c: ComputedCondition = { type: 'Priced', status: 'Unknown', reason: 'NoResolvedTargets', message: 'no target resolved (ResolvedRefs says why): its prices are judged once one does' };
    if (gen !== undefined) c.observedGeneration = gen;
    return c;
  }
  const explicitlyPriced = (t: TargetConfig): boolean =>
    providers.get(t.providerId)?.source.spec.models?.find((m) => m.name === t.model)?.pricing !== undefined;
  const unpriced = targets.filter(
    (t) =>
      !explicitlyPriced(t) &&
      [t.pricing.inputPerMTok, t.pricing.outputPerMTok, t.pricing.cachedInputPerMTok, t.pricing.podSecondUsd, t.pricing.perRequestUsd, t.pricing.perImageUsd, t.pricing.perAudioSecondUsd, t.pricing.perMCharactersUsd, t.pricing.perFileSearchUsd, t.pricing.perContainerUsd, t.pricing.perVideoSecondUsd].every(
        (price) => price === undefined || price === 0,
      ),
  );
  if (unpriced.length === 0) {
    const message = problems.length === 0 ? 'every target has prices' : 'every resolved target has prices; ResolvedRefs lists what did not resolve';
    return condition('Priced', true, 'Priced', message, gen);
  }
  // A target several rules name is one target.
  const named = listed([...new Set(unpriced.map((t) => `${t.providerId} ${t.model}`))]);
  return condition('Priced', false, 'Unpriced', `targets without prices, whose requests are charged $0 (USD Budgets never count them): ${named}; set pricing on the Provider's model (spec.models[].pricing) or spec.vllm.gpuPricing`, gen);
}

/** Targets of the route and, when it declares rules, each rule with indexes into those targets. */
function resolveRoute(
  route: ModelRoute,
  providers: Map<string, CompiledProvider>,
  namespaceLabels: Map<string, Record<string, string>>,
  platform: ReadonlySet<string> | undefined,
): { targets: TargetConfig[]; rules?: RuleConfig[]; problems: Problem[] } {
  const spec = route.spec;
  if (spec.rules === undefined) return resolveTargets(route, spec.targets ?? [], spec.strategy, providers, namespaceLabels, platform);
  const targets: TargetConfig[] = [];
  const problems: Problem[] = [];
  const rules = spec.rules.map((r): RuleConfig => {
    const strategy = r.strategy ?? spec.strategy;
    const resolved = resolveTargets(route, r.targets, strategy, providers, namespaceLabels, platform);
    problems.push(...resolved.problems.map((p) => ({ ...p, message: `rule ${r.name}: ${p.message}`, rule: r.name })));
    const rule: RuleConfig = { name: r.name, strategy, targets: resolved.targets.map((_, i) => targets.length + i) };
    targets.push(...resolved.targets);
    if (r.when !== undefined) rule.when = ruleConditions(r.when);
    if (r.providerSelector !== undefined) rule.providerSelector = r.providerSelector;
    return rule;
  });
  return { targets, rules, problems };
}

function ruleConditions(when: NonNullable<RouteRuleSpec['when']>): RuleConditionsConfig {
  const c: RuleConditionsConfig = {};
  if (when.headers !== undefined) c.headers = when.headers.map((h) => ({ name: h.name.toLowerCase(), value: h.value, type: h.type }));
  if (when.namespaces !== undefined) c.namespaces = [...when.namespaces].sort();
  if (when.serviceAccounts !== undefined) c.serviceAccounts = when.serviceAccounts.map((sa) => `${sa.namespace}/${sa.name}`).sort();
  if (when.namespaceSelector !== undefined) c.namespaceSelector = when.namespaceSelector;
  if (when.apiKeySelector !== undefined) c.apiKeySelector = when.apiKeySelector;
  if (when.promptTokens !== undefined) c.promptTokens = { ...when.promptTokens };
  if (when.maxTokens !== undefined) c.maxTokens = { ...when.maxTokens };
  for (const flag of ['tools', 'images', 'jsonSchema', 'stream'] as const) {
    const value = when[flag];
    if (value !== undefined) c[flag] = value;
  }
  return c;
}

function toRouteConfig(route: ModelRoute, targets: TargetConfig[], unresolved: string[], rules: RuleConfig[] | undefined): RouteConfig {
  const spec = route.spec;
  const retry = spec.retry ?? RETRY_DEFAULTS;
  const backoff = retry.backoff ?? BACKOFF_DEFAULTS;
  const timeouts = spec.timeouts ?? TIMEOUT_DEFAULTS;
  const config: RouteConfig = {
    id: idOf(route),
    namespace: route.metadata.namespace ?? 'default',
    model: spec.model,
    created: creationSeconds(route),
    matches: (spec.matches ?? []).map((m) => ({
      headers: (m.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value, type: h.type })),
    })),
    strategy: spec.strategy,
    targets,
    ...(rules === undefined ? {} : { rules }),
    unresolved,
    retry: {
      attempts: retry.attempts,
      on: [...retry.retryOn].sort(),
      initialBackoffMs: durationToMs(backoff.initial),
      maxBackoffMs: durationToMs(backoff.max),
      maxRetryAfterMs: durationToMs(retry.maxRetryAfter),
    },
    fallbackOn: [...spec.fallbackOn].sort(),
    timeouts: {
      totalMs: durationToMs(timeouts.total),
      streamIdleMs: durationToMs(timeouts.streamIdle),
    },
    access: accessConfig(route),
  };
  if (timeouts.attempt !== undefined) config.timeouts.attemptMs = durationToMs(timeouts.attempt);
  const rateLimits = rateLimitConfigs(route);
  if (rateLimits.length > 0) config.rateLimits = rateLimits;
  const cache = cacheConfig(route);
  if (cache !== undefined) config.cache = cache;
  if (spec.podSelection !== undefined) config.podSelection = { ...spec.podSelection };
  if (spec.passThrough !== undefined) {
    const realtime = spec.passThrough.realtime;
    const maxConnections = realtime?.maxConnections ?? DEFAULT_REALTIME_MAX_CONNECTIONS;
    config.passThrough = {
      endpoints: [...new Set(spec.passThrough.endpoints)].sort(),
      maxUploadBytes: spec.passThrough.maxUploadBytes,
      realtime: {
        maxConnections,
        idleTimeoutMs: realtime === undefined ? DEFAULT_REALTIME_IDLE_MS : durationToMs(realtime.idleTimeout),
        // More per caller than the route holds would never apply: the route's limit is what a caller meets first.
        maxConnectionsPerCaller: Math.min(realtime?.maxConnectionsPerCaller ?? defaultRealtimePerCaller(maxConnections), maxConnections),
        maxDurationMs: realtime === undefined ? DEFAULT_REALTIME_MAX_DURATION_MS : durationToMs(realtime.maxDuration),
      },
    };
  }
  const limits = spec.limits;
  if (limits !== undefined && (limits.maxResponseBytes !== undefined || limits.maxStreamEventBytes !== undefined || limits.maxResponseJsonElements !== undefined)) config.limits = { ...limits };
  return config;
}

/** Rate limits as declared; numbers left out when unset (the data plane reads absent as unlimited). */
function rateLimitConfigs(route: ModelRoute): RateLimitConfig[] {
  return (route.spec.rateLimits ?? []).map((l) => {
    const config: RateLimitConfig = { per: l.per };
    if (l.requestsPerMinute !== undefined) config.requestsPerMinute = l.requestsPerMinute;
    if (l.tokensPerMinute !== undefined) config.tokensPerMinute = l.tokensPerMinute;
    return config;
  });
}

/** Present only when caching is enabled. */
function cacheConfig(route: ModelRoute): CacheConfig | undefined {
  const cache = route.spec.cache;
  if (cache === undefined || !cache.enabled) return undefined;
  return { ttlMs: durationToMs(cache.ttl), maxEntries: cache.maxEntries, shareAcrossCallers: cache.shareAcrossCallers };
}

function accessConfig(route: ModelRoute): AccessConfig {
  const access = route.spec.access;
  const config: AccessConfig = {
    anonymous: access?.anonymous ?? false,
    namespaces: { from: access?.namespaces?.from ?? 'Same' },
    serviceAccounts: (access?.serviceAccounts ?? []).map((sa) => `${sa.namespace}/${sa.name}`).sort(),
  };
  const selector = access?.namespaces?.selector;
  if (selector !== undefined) config.namespaces.selector = selector;
  if (access?.apiKeys !== undefined) config.apiKeySelector = access.apiKeys.selector;
  if (access?.apiKeys?.namespaces !== undefined) config.apiKeyNamespaces = [...new Set(access.apiKeys.namespaces)].sort();
  return config;
}

/** Whether the route admits some caller from its own namespace (who then always gets it: own namespace first). */
function admitsOwnNamespace(route: ModelRoute, namespaceLabels: Map<string, Record<string, string>>): boolean {
  const access = route.spec.access;
  const ns = route.metadata.namespace ?? 'default';
  if (access === undefined || access.anonymous || access.apiKeys !== undefined) return true;
  if ((access.serviceAccounts ?? []).some((sa) => sa.namespace === ns)) return true;
  const from = access.namespaces?.from ?? 'Same';
  if (from !== 'Selector') return true;
  return matchesSelector(access.namespaces?.selector ?? {}, namespaceLabels.get(ns) ?? {});
}

/**
 * A route that takes every caller of its public name: no header matches, open to all namespaces
 * (or anonymous). The data plane picks the caller's own namespace's route first, then the first in
 * precedence (platform namespaces', then the oldest): a route that no caller of its own namespace may
 * use only serves callers no route before it admits, so an open route before it shadows it completely.
 */
const opensToAll = (route: ModelRoute): boolean => (route.spec.matches ?? []).length === 0 && (route.spec.access?.anonymous === true || route.spec.access?.namespaces?.from === 'All');

/** The older open route of the same public name (`oldestOpen`) that takes every caller this one could serve, if any. */
function shadowingRoute(route: ModelRoute, oldestOpen: ModelRoute | undefined, namespaceLabels: Map<string, Record<string, string>>): ModelRoute | undefined {
  if (oldestOpen === undefined || admitsOwnNamespace(route, namespaceLabels)) return undefined;
  return oldestOpen;
}

export function compileRoutes(
  input: CompileInput,
  providers: Map<string, CompiledProvider>,
): { routes: RouteConfig[]; statuses: ObjectStatus[] } {
  return runToEnd(compileRoutesSteps(input, providers));
}

/** compileRoutes, a route (a step) at a time: the operator compiles in slices (compile.ts). */
export function* compileRoutesSteps(
  input: CompileInput,
  providers: Map<string, CompiledProvider>,
): Steps<{ routes: RouteConfig[]; statuses: ObjectStatus[] }> {
  const namespaceLabels = new Map((input.namespaces ?? []).map((n) => [n.name, n.labels]));
  const platform = input.platformNamespaces === undefined ? undefined : new Set(input.platformNamespaces);
  // Creation times parsed once, not twice per comparison (Date.parse of 5,000 routes' times ~13 times each).
  const seconds = new Map(input.routes.map((r) => [r, creationSeconds(r)]));
  const ordered = [...input.routes].sort((a, b) => precedence(platform, a, b, seconds));
  const claimed = new Map<string, string>();
  // Per public name, the oldest accepted route open to all (what shadowingRoute needs of the older
  // ones): keeping every accepted route per name, copied on each, was quadratic in the routes of
  // many namespaces sharing one name (16,000 of them: 1.0–4.0 s of every reconcile).
  const oldestOpenByModel = new Map<string, ModelRoute>();
  const routes: RouteConfig[] = [];
  const statuses: ObjectStatus[] = [];
  const publishable = new Set([...providers.values()].flatMap((p) => (p.config === undefined ? [] : [p.id])));

  for (const route of ordered) {
    yield;
    const ns = route.metadata.namespace ?? 'default';
    const gen = route.metadata.generation;
    const status: ObjectStatus = { kind: 'ModelRoute', namespace: ns, name: route.metadata.name, conditions: [] };
    if (gen !== undefined) status.generation = gen;
    statuses.push(status);

    const { targets, rules, problems } = resolveRoute(route, providers, namespaceLabels, platform);
    const config = toRouteConfig(route, targets, problems.map(forCallers), rules);
    // Refused before it can claim its public name: a route the data plane cannot load serves nothing.
    const refusal = routeRefusal(config, publishable);
    if (refusal !== undefined) {
      status.conditions.push(condition('Accepted', false, 'Invalid', `spec.${refusal.path}: ${refusal.message}`, gen));
      continue;
    }
    // A route that lost a conflict is still checked: fixing its references should not wait for the winner to go.
    const refs = resolvedRefs(problems, gen);
    const scope = `${ns}\u0000${route.spec.model}`;
    const owner = claimed.get(scope);
    const shadow = owner === undefined ? shadowingRoute(route, oldestOpenByModel.get(route.spec.model), namespaceLabels) : undefined;
    if (owner !== undefined || shadow !== undefined) {
      const message =
        owner !== undefined
          ? `public model ${route.spec.model} is already served by ModelRoute ${owner} in the same namespace; rename spec.model or delete one of them`
          : `public model ${route.spec.model} is already served by ModelRoute ${idOf(shadow as ModelRoute)}, which comes first (older, or of a platform namespace), admits every caller this route admits except its own namespace's, and this route admits no caller of its own namespace; admit namespace ${ns} in spec.access or rename spec.model`;
      status.conditions.push(condition('Accepted', false, 'Conflicted', message, gen), refs);
      continue;
    }
    claimed.set(scope, idOf(route));
    if (opensToAll(route) && !oldestOpenByModel.has(route.spec.model)) oldestOpenByModel.set(route.spec.model, route);
    status.conditions.push(condition('Accepted', true, 'Accepted', 'Route is valid', gen));
    status.conditions.push(refs, pricedCondition(targets, providers, problems, gen));
    const passThrough = passThroughServedCondition(route.spec.passThrough?.endpoints, targets, providers, gen);
    if (passThrough !== undefined) status.conditions.push(passThrough);
    routes.push(config);
  }
  // Precedence order is what the data plane relies on: oldest route first for each public name.
  routes.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  return { routes, statuses };
}
