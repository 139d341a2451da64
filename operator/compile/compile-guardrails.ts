import type { GuardrailConfig, GuardrailDetectorConfig, GuardrailRuleConfig } from '../../dataplane/config/guardrail-config.js';
import type { GuardrailPolicy, GuardrailRule } from '../api/guardrail-policy.js';
import { durationToMs } from '../api/duration.js';
import { scopedSubjects } from './budget-scope.js';
import { admits, seesOthers, unavailableProvider } from './compile-routes.js';
import type { CompiledProvider } from './compile-providers.js';
import { condition, type Problem, resolvedRefs } from './conditions.js';
import { guardrailRefusal } from './publishable.js';
import type { ObjectStatus } from './types.js';
import { checkServiceRef, type ResolvedServices } from './service-ref.js';
import { egressProblem } from './egress-check.js';
import type { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

/** Provider types whose API serves POST /moderations in the OpenAI wire format. */
const MODERATION_TYPES = new Set(['openai', 'openai-compatible']);

export interface GuardrailContext {
  providers: ReadonlyMap<string, CompiledProvider>;
  routeIds: ReadonlySet<string>;
  namespaceLabels: Map<string, Record<string, string>>;
  /** Namespaces whose policies may name subjects anywhere (undefined: every namespace). */
  platform?: ReadonlySet<string> | undefined;
  /** The Service ports the operator resolved (webhook serviceRefs among them). */
  services: ResolvedServices;
  egress?: CompiledEgressAllowlist | undefined;
}

function detectorConfig(ns: string, d: GuardrailRule['detector']): GuardrailDetectorConfig {
  if (d.builtin !== undefined) return { kind: 'builtin', names: [...d.builtin] };
  if (d.patterns !== undefined) return { kind: 'patterns', patterns: d.patterns.map((p) => ({ name: p.name, pattern: p.pattern })) };
  if (d.denyList !== undefined) return { kind: 'denyList', phrases: [...d.denyList.phrases] };
  if (d.maxPromptTokens !== undefined) return { kind: 'maxPromptTokens', max: d.maxPromptTokens };
  if (d.webhook !== undefined) {
    const w = d.webhook;
    // A Service is reached by its cluster DNS name from the data-plane pods.
    const url = w.url ?? `http://${w.serviceRef?.name}.${ns}.svc:${w.serviceRef?.port}${w.serviceRef?.path ?? '/'}`;
    return { kind: 'webhook', url, timeoutMs: durationToMs(w.timeout), failureMode: w.failureMode };
  }
  const m = d.moderation;
  // The API schema guarantees exactly one detector; moderation is the one left.
  if (m === undefined) throw new Error('detector without a kind');
  const config: GuardrailDetectorConfig = {
    kind: 'moderation',
    providerId: `${m.providerRef.namespace ?? ns}/${m.providerRef.name}`,
    model: m.model,
    timeoutMs: durationToMs(m.timeout),
    failureMode: m.failureMode,
  };
  if (m.categories !== undefined) config.categories = [...m.categories];
  return config;
}

/** Why a moderation rule's Provider cannot serve it, or undefined when it can. */
function moderationProblem(ns: string, ruleName: string, providerId: string, ctx: GuardrailContext): Problem | undefined {
  const p = ctx.providers.get(providerId);
  const at = `rule ${ruleName}: moderation.providerRef`;
  // Admission first: a namespace learns nothing (existence, type) of a Provider it may not use.
  if ((p === undefined || !admits(p, ns, ctx.namespaceLabels)) && !providerId.startsWith(`${ns}/`) && !seesOthers(ctx.platform, ns)) {
    return { reason: 'RefNotPermitted', message: `${at}: ${unavailableProvider(providerId, ns)}` };
  }
  if (p === undefined) return { reason: 'ProviderNotFound', message: `${at}: Provider ${providerId} not found` };
  if (!admits(p, ns, ctx.namespaceLabels)) return { reason: 'RefNotPermitted', message: `${at}: Provider ${providerId} does not admit namespace ${ns} (its allowedRoutes)` };
  if (!MODERATION_TYPES.has(p.source.spec.type)) {
    return { reason: 'InvalidKind', message: `${at}: Provider ${providerId} is of type ${p.source.spec.type}; moderation needs type openai or openai-compatible` };
  }
  if (p.config === undefined) return { reason: 'ProviderNotReady', message: `${at}: Provider ${providerId} is not ready: ${p.notReady ?? 'see its status'}` };
  return undefined;
}

/**
 * GuardrailPolicies → snapshot configs. A policy the data plane would refuse (a pattern RE2 cannot
 * compile) is left out with Accepted=False naming the field. A moderation Provider that cannot be
 * used, or a webhook Service that is missing, lacks the port or has no ready endpoint, leaves the
 * rule in force with ResolvedRefs=False: at request time its failureMode decides,
 * so a broken reference never silently switches a guardrail off.
 */
export function compileGuardrails(policies: readonly GuardrailPolicy[], ctx: GuardrailContext): { configs: GuardrailConfig[]; statuses: ObjectStatus[]; moderationProviders: Set<string> } {
  const configs: GuardrailConfig[] = [];
  const moderationProviders = new Set<string>();
  const statuses = policies.map((g) => {
    const ns = g.metadata.namespace ?? 'default';
    const gen = g.metadata.generation;
    const problems: Problem[] = [];
    const scoped = scopedSubjects(g, ctx.platform);
    if (scoped.problem !== undefined) problems.push(scoped.problem);
    // Only the routes it may govern: whether another namespace has a route is not this policy's to learn.
    for (const id of scoped.subjects.routes) {
      if (!ctx.routeIds.has(id)) problems.push({ reason: 'RouteNotFound', message: `ModelRoute ${id} not found or not accepted` });
    }
    const usable: string[] = [];
    const rules: GuardrailRuleConfig[] = g.spec.rules.map((r, i) => {
      const detector = detectorConfig(ns, r.detector);
      const serviceRef = r.detector.webhook?.serviceRef;
      if (serviceRef !== undefined) {
        // The rule stays in force (the URL is the Service's DNS name): its failureMode decides until the Service is there.
        const { problem } = checkServiceRef(ctx.services, ns, serviceRef, `spec.rules[${i}].detector.webhook.serviceRef`);
        if (problem !== undefined) problems.push({ ...problem, message: `rule ${r.name}: ${problem.message}` });
      }
      if (detector.kind === 'webhook') {
        // The rule stays in force: every call is refused at connect, and its failureMode decides.
        const outside = egressProblem(ctx.egress, detector.url, `spec.rules[${i}].detector.webhook.${serviceRef === undefined ? 'url' : 'serviceRef'}`);
        if (outside !== undefined) problems.push({ reason: 'EgressNotAllowed', message: `rule ${r.name}: ${outside}` });
      }
      if (detector.kind === 'moderation') {
        const problem = moderationProblem(ns, r.name, detector.providerId, ctx);
        if (problem === undefined) usable.push(detector.providerId);
        else {
          problems.push(problem);
          // The Provider may be in the snapshot for its own namespace: it must not answer for this one.
          detector.unusable = true;
        }
      }
      return { name: r.name, phase: r.phase, action: r.action, detector };
    });
    const config: GuardrailConfig = { id: `${ns}/${g.metadata.name}`, subjects: scoped.subjects, rules, holdBackChars: g.spec.streaming.holdBackChars };
    if (g.spec.uninspectedEndpoints === 'Allow') config.uninspectedEndpoints = 'Allow';
    const status: ObjectStatus = { kind: 'GuardrailPolicy', namespace: ns, name: g.metadata.name, conditions: [] };
    if (gen !== undefined) status.generation = gen;
    const refusal = guardrailRefusal(config);
    if (refusal !== undefined) {
      status.conditions = [condition('Accepted', false, 'Invalid', `spec.${refusal.path}: ${refusal.message}`, gen), resolvedRefs(problems, gen)];
      return status;
    }
    status.conditions = [condition('Accepted', true, 'Accepted', 'GuardrailPolicy is valid', gen), resolvedRefs(problems, gen)];
    for (const id of usable) moderationProviders.add(id);
    configs.push(config);
    return status;
  });
  return { configs, statuses, moderationProviders };
}
