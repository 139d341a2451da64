import { keyNamespaceTrusted } from '../config/api-key-trust.js';
import { compileHeaderPattern } from '../config/header-pattern.js';
import { matchesSelector } from '../config/label-selector.js';
import type { RouteConfig, RuleConditionsConfig, RuleConfig, StrategyName, TargetConfig } from '../config/snapshot.js';
import type { Caller } from '../core/caller.js';
import type { RequestFeatures } from './request-features.js';

/** Reads one request header by its lower-case name. */
export type HeaderLookup = (name: string) => string | undefined;

/** What a rule's conditions read. */
export interface RuleInput {
  header: HeaderLookup;
  caller: Caller;
  /** Labels of the caller's namespace ({} when unknown or anonymous). */
  namespaceLabels: Record<string, string>;
  features: RequestFeatures;
}

type Test = (input: RuleInput) => boolean;

/** A rule ready for the hot path: one closure per condition, regular expressions compiled once. */
export interface CompiledRule {
  name: string;
  strategy: StrategyName;
  targets: TargetConfig[];
  providerSelector?: RuleConfig['providerSelector'];
  /** True for the catch-all (no conditions). */
  catchAll: boolean;
  matches: Test;
}

/** The name of the rule a route without rules serves with. */
export const DEFAULT_RULE = 'default';

function inRange(value: number, range: { min?: number | undefined; max?: number | undefined }): boolean {
  return (range.min === undefined || value >= range.min) && (range.max === undefined || value <= range.max);
}

function headerTest(h: NonNullable<RuleConditionsConfig['headers']>[number]): Test {
  if (h.type === 'Exact') return (i) => i.header(h.name) === h.value;
  const compiled = compileHeaderPattern(h.value);
  if (!compiled.ok) throw new Error(compiled.error);
  const re = compiled.pattern;
  return (i) => {
    const v = i.header(h.name);
    return v !== undefined && re.test(v);
  };
}

/** One test per condition that is set; all must hold. Throws on a bad regular expression. */
function conditionTests(when: RuleConditionsConfig, route: RouteConfig): Test[] {
  const tests: Test[] = [];
  for (const h of when.headers ?? []) tests.push(headerTest(h));
  if (when.namespaces !== undefined) {
    const set = new Set(when.namespaces);
    tests.push((i) => i.caller.namespace !== undefined && set.has(i.caller.namespace));
  }
  if (when.serviceAccounts !== undefined) {
    const set = new Set(when.serviceAccounts);
    tests.push((i) => i.caller.kind === 'serviceaccount' && set.has(`${i.caller.namespace ?? ''}/${i.caller.name ?? ''}`));
  }
  const nsSelector = when.namespaceSelector;
  if (nsSelector !== undefined) tests.push((i) => i.caller.namespace !== undefined && matchesSelector(nsSelector, i.namespaceLabels));
  const keySelector = when.apiKeySelector;
  // Only keys of namespaces the route trusts: a Secret's labels are whatever its own namespace wrote.
  if (keySelector !== undefined) tests.push((i) => i.caller.kind === 'apikey' && keyNamespaceTrusted(i.caller.namespace ?? '', route) && matchesSelector(keySelector, i.caller.labels ?? {}));
  const prompt = when.promptTokens;
  if (prompt !== undefined) tests.push((i) => inRange(i.features.promptTokens, prompt));
  const max = when.maxTokens;
  if (max !== undefined) tests.push((i) => inRange(i.features.maxTokens ?? Number.POSITIVE_INFINITY, max));
  for (const flag of ['tools', 'images', 'jsonSchema', 'stream'] as const) {
    const wanted = when[flag];
    if (wanted !== undefined) tests.push((i) => i.features[flag] === wanted);
  }
  return tests;
}

function allOf(tests: Test[]): Test {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0] as Test;
  return (i) => {
    for (const t of tests) if (!t(i)) return false;
    return true;
  };
}

/**
 * The rules of a route in evaluation order. A route without rules has one catch-all rule named
 * `default` over all its targets. Built once per snapshot; throws on a bad regular expression.
 */
export function compileRules(route: RouteConfig): CompiledRule[] {
  if (route.rules === undefined) {
    return [{ name: DEFAULT_RULE, strategy: route.strategy, targets: route.targets, catchAll: true, matches: () => true }];
  }
  return route.rules.map((r) => {
    const rule: CompiledRule = {
      name: r.name,
      strategy: r.strategy,
      targets: r.targets.flatMap((index) => {
        const t = route.targets[index];
        return t === undefined ? [] : [t];
      }),
      catchAll: r.when === undefined,
      matches: r.when === undefined ? () => true : allOf(conditionTests(r.when, route)),
    };
    if (r.providerSelector !== undefined) rule.providerSelector = r.providerSelector;
    return rule;
  });
}

/** The first rule whose conditions hold, or undefined when none does (a route whose rules have no catch-all). */
export function firstMatchingRule(rules: readonly CompiledRule[], input: RuleInput): CompiledRule | undefined {
  for (const r of rules) if (r.matches(input)) return r;
  return undefined;
}
