import type { RuntimeProvider } from '../../runtime/runtime-snapshot.js';
import type { HeaderLookup } from '../../runtime/rule-matcher.js';
import type { RouteConfig, Snapshot, StrategyName, TargetConfig } from '../../config/snapshot.js';
import { namespaceLabels } from '../../config/label-selector.js';
import type { Caller } from '../../core/caller.js';
import type { JsonObject } from '../../core/canonical.js';
import { GatewayError } from '../../core/gateway-error.js';
import type { TargetHealth } from '../health/target-health.js';
import { orderTargetsBy, type Random } from '../strategies.js';
import type { TargetStats } from '../target-stats.js';
import { requestFeatures, type RequestFeatures } from '../../runtime/request-features.js';
import { callerResidency, type ResidencyPolicy, rulePolicy, violatedPolicy } from './residency.js';
import { type CompiledRule, firstMatchingRule } from '../../runtime/rule-matcher.js';

export type SkipReason = 'residency' | 'capability' | 'context-window' | 'ejected';

export interface SkippedTarget {
  providerId: string;
  model: string;
  reason: SkipReason;
  detail: string;
}

/** Which rule serves a request, and which targets it tries in which order. */
export interface RouteDecision {
  rule: string;
  strategy: StrategyName;
  /** Targets in the order they are tried. */
  candidates: TargetConfig[];
  /** Targets of the rule that will not be tried, and why. */
  skipped: SkippedTarget[];
  /** Residency policies that excluded a target: when no candidate serves, the 403 names them. */
  excludedBy: string[];
  /** Every candidate was ejected by passive health, so they are tried anyway rather than none. */
  panic: boolean;
  features: RequestFeatures;
}

export interface DecisionRequest {
  caller: Caller;
  header: HeaderLookup;
  namespaces: Snapshot['namespaces'];
  body: JsonObject;
  stream: boolean;
  promptTokens: number;
}

export interface DecisionContext {
  providers: ReadonlyMap<string, RuntimeProvider>;
  stats: TargetStats;
  health: TargetHealth;
  random: Random;
}

const CAPABILITIES = ['tools', 'vision', 'jsonSchema'] as const;
type Capability = (typeof CAPABILITIES)[number];
const NO_CAPABILITIES: readonly Capability[] = [];

/** The capabilities the request needs; a plain chat request needs none (and gets no array of its own). */
function wantedCapabilities(features: RequestFeatures): readonly Capability[] {
  if (!features.tools && !features.images && !features.jsonSchema) return NO_CAPABILITIES;
  return CAPABILITIES.filter((c) => (c === 'vision' ? features.images : features[c]));
}

/**
 * The targets that `drops` keeps, in order (`drops` records why it leaves one out). When it keeps them
 * all, this is `targets` itself: on the common path every target passes every check, and a copy per
 * check was most of what a decision allocated (bench/results/reqpath-s10-2026-12-05.md).
 */
function without(targets: TargetConfig[], drops: (t: TargetConfig) => boolean): TargetConfig[] {
  let kept = targets;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i] as TargetConfig;
    if (drops(t)) {
      if (kept === targets) kept = targets.slice(0, i);
    } else if (kept !== targets) kept.push(t);
  }
  return kept;
}

function skip(t: TargetConfig, reason: SkipReason, detail: string): SkippedTarget {
  return { providerId: t.providerId, model: t.model, reason, detail };
}

/** 403: the policies left no target that may serve the request. */
export function residencyDenied(route: RouteConfig, rule: string, policies: readonly string[], why: string): GatewayError {
  return new GatewayError(
    403,
    'residency_denied',
    'permission_error',
    `model ${route.model} (route ${route.id}, rule ${rule}): ${why}; policy: ${policies.join('; ')}`,
    { headers: { 'x-tollgate-rule': rule } },
  );
}

/**
 * Picks the rule (first whose conditions hold), orders its targets by its strategy, and drops the
 * targets that must not or cannot serve: residency (caller and rule policies), the context window
 * (estimated prompt + max_tokens), and passive health (ejected targets, unless all are). Throws a
 * GatewayError when nothing is left for a reason the client should hear (403 residency, 400 context).
 */
export function decideRoute(route: RouteConfig, rules: readonly CompiledRule[], req: DecisionRequest, ctx: DecisionContext): RouteDecision {
  const features = requestFeatures(req.body, req.stream, req.promptTokens);
  const rule = firstMatchingRule(rules, { header: req.header, caller: req.caller, namespaceLabels: namespaceLabels(req.namespaces, req.caller.namespace), features });
  if (rule === undefined) {
    throw new GatewayError(400, 'no_matching_rule', 'invalid_request_error', `no rule of route ${route.id} (model ${route.model}) applies to this request`);
  }
  // An anonymous caller matches no namespaceSelector rule, but is held to its route's namespace's residency.
  return decideWithin(route, rule, callerResidency(req.caller, route.id, req.namespaces), features, ctx);
}

function decideWithin(
  route: RouteConfig,
  rule: CompiledRule,
  callerResidency: ResidencyPolicy[],
  features: RequestFeatures,
  ctx: DecisionContext,
): RouteDecision {
  let policies = callerResidency;
  if (rule.providerSelector !== undefined) policies = [...policies, rulePolicy(route.id, rule.name, rule.providerSelector)];
  const ordered = orderTargetsBy(rule.strategy, rule.targets, ctx.stats, ctx.random);
  const skipped: SkippedTarget[] = [];
  const excludedBy: string[] = [];
  const allowed =
    policies.length === 0
      ? ordered
      : without(ordered, (t) => {
          const violated = violatedPolicy(policies, ctx.providers.get(t.providerId)?.config);
          if (violated === undefined) return false;
          skipped.push(skip(t, 'residency', violated.name));
          if (!excludedBy.includes(violated.name)) excludedBy.push(violated.name);
          return true;
        });
  if (allowed.length === 0 && excludedBy.length > 0) throw residencyDenied(route, rule.name, excludedBy, 'no target of the rule is allowed for this caller');

  // Capabilities: a request with tools, images or a JSON schema never goes to a model declared without them.
  const wanted = wantedCapabilities(features);
  const capable =
    wanted.length === 0
      ? allowed
      : without(allowed, (t) => {
          const missing = wanted.filter((c) => t.lacks?.includes(c) === true);
          if (missing.length === 0) return false;
          skipped.push(skip(t, 'capability', `the model does not support ${missing.join(', ')}`));
          return true;
        });
  if (capable.length === 0 && allowed.length > 0) {
    throw new GatewayError(
      400,
      'unsupported_capability',
      'invalid_request_error',
      `no target of model ${route.model} (route ${route.id}, rule ${rule.name}) supports ${wanted.join(', ')}`,
      { headers: { 'x-tollgate-rule': rule.name } },
    );
  }

  const needed = features.promptTokens + (features.maxTokens ?? 0);
  const fitting = without(capable, (t) => {
    if (t.contextWindow === undefined || needed <= t.contextWindow) return false;
    skipped.push(skip(t, 'context-window', `needs ~${needed} tokens (prompt ~${features.promptTokens} + max_tokens ${features.maxTokens ?? 0}), window ${t.contextWindow}`));
    return true;
  });
  if (fitting.length === 0 && capable.length > 0) {
    throw new GatewayError(
      400,
      'context_length_exceeded',
      'invalid_request_error',
      `the request needs about ${needed} tokens (prompt ~${features.promptTokens} + max_tokens ${features.maxTokens ?? 0}); no target of model ${route.model} (route ${route.id}, rule ${rule.name}) has a context window that large`,
      { param: 'messages', headers: { 'x-tollgate-rule': rule.name } },
    );
  }

  let ejected: SkippedTarget[] | undefined;
  const healthy = without(fitting, (t) => {
    if (ctx.health.available(t, ctx.providers.get(t.providerId)?.config.outlierDetection)) return false;
    const v = ctx.health.view(t);
    const why =
      v.activeFailure !== undefined
        ? `failing its active health check: ${v.activeFailure}`
        : v.state === 'open'
          ? `ejected by passive health for another ${v.ejectedForMs ?? 0} ms`
          : 'half-open: a probe is in flight';
    (ejected ??= []).push(skip(t, 'ejected', why));
    return true;
  });
  const panic = healthy.length === 0 && fitting.length > 0;
  if (!panic && ejected !== undefined) skipped.push(...ejected);
  return { rule: rule.name, strategy: rule.strategy, candidates: panic ? fitting : healthy, skipped, excludedBy, panic, features };
}
