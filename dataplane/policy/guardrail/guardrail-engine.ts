import type { GatewayError } from '../../core/gateway-error.js';
import type { GuardrailConfig, GuardrailPhase } from '../../config/guardrail-config.js';
import type { SubjectsConfig } from '../../config/subjects-config.js';
import type { JsonObject } from '../../core/canonical.js';
import { audioField, type BodyText, logprobsField, nativeText, requestText } from './content-text.js';
import { responseText, withoutLogprobs } from './answer-text.js';
import { scanDecoded } from './json-escapes.js';
import { PatternBudget } from '../detectors/index.js';
import { type CompiledRule, compileRule, type RuleDeps } from './compiled-rule.js';
import type { GuardrailDecision } from './guardrail-decision.js';
import { guardrailRefusal, guardrailUnsupported } from './guardrail-refusal.js';
import { countTypes, maskSpans, type Span } from './span.js';
import { acrossJoins, withPieces } from './joined-slots.js';
import type { CheckContext } from './webhook-check.js';

/** Who is asking and through which route: what subjects are matched against. */
export interface GuardedCaller {
  kind: string;
  namespace?: string;
  name?: string;
}

/** The request a check is about (for webhooks and decisions), and its cancellation. */
export type RequestInfo = Omit<CheckContext, 'policy' | 'rule' | 'phase'>;

export interface CheckResult {
  /** The body to send on (upstream for requests, to the client for responses): masked when a rule masked. */
  body: JsonObject;
  decisions: GuardrailDecision[];
  /** Set when a rule blocked (or a check failed closed): the refusal to answer with. */
  blocked?: GatewayError;
  /** Policies whose rules changed the body (for the x-tollgate-guardrail header). */
  masked: string[];
}

/**
 * Whether a policy's subjects cover this caller on this route. An anonymous caller has no
 * namespace of its own: it counts as the route's namespace, which opened the route to it (as for
 * Budgets), or a team's `namespaces:` policy would not apply on its own routes opened to anyone.
 */
export function applies(s: SubjectsConfig, caller: GuardedCaller, routeId: string): boolean {
  if (s.routes.includes(routeId)) return true;
  if (caller.kind === 'anonymous') return s.namespaces.includes(routeId.slice(0, routeId.indexOf('/')));
  if (caller.namespace !== undefined && s.namespaces.includes(caller.namespace)) return true;
  const who = `${caller.namespace ?? ''}/${caller.name ?? ''}`;
  if (caller.kind === 'serviceaccount' && s.serviceAccounts.includes(who)) return true;
  return caller.kind === 'apikey' && s.apiKeys.includes(who);
}

/**
 * Whether a policy with request rules governs this caller on this route, without compiling any: for
 * what sends a request's text upstream outside the pipeline (the upstream token count), which must
 * not send what those rules would block or mask.
 */
export function requestRulesApply(configs: readonly GuardrailConfig[], caller: GuardedCaller, routeId: string): boolean {
  return configs.some((c) => c.rules.some((r) => r.phase === 'Request') && applies(c.subjects, caller, routeId));
}

interface CompiledPolicy {
  config: GuardrailConfig;
  rules: CompiledRule[];
}

/** Every GuardrailPolicy of a snapshot, compiled once when the snapshot loads. */
export class RuntimeGuardrails {
  private constructor(private readonly policies: readonly CompiledPolicy[]) {}

  static readonly NONE = new RuntimeGuardrails([]);

  /** Throws, naming the policy and rule, when a policy cannot be compiled (compile refuses such policies first). */
  static build(configs: readonly GuardrailConfig[], deps: RuleDeps): RuntimeGuardrails {
    if (configs.length === 0) return RuntimeGuardrails.NONE;
    return new RuntimeGuardrails(
      configs.map((config) => {
        try {
          return { config, rules: config.rules.map((r) => compileRule(config, r, deps)) };
        } catch (err) {
          throw new Error(`guardrail ${config.id}: ${(err as Error).message}`);
        }
      }),
    );
  }

  get size(): number {
    return this.policies.length;
  }

  /** The policies that govern this caller on this route, in snapshot order; undefined when none does. */
  forRequest(caller: GuardedCaller, routeId: string): ActiveGuardrails | undefined {
    const active = this.policies.filter((p) => applies(p.config.subjects, caller, routeId));
    return active.length === 0 ? undefined : new ActiveGuardrails(active);
  }
}

/** The rules of one phase in order, across the policies that apply. */
function rulesOf(policies: readonly CompiledPolicy[], phase: GuardrailPhase): CompiledRule[] {
  return policies.flatMap((p) => p.rules.filter((r) => r.config.phase === phase));
}

function decision(rule: CompiledRule, action: GuardrailDecision['action']): GuardrailDecision {
  return { policy: rule.policy, rule: rule.config.name, phase: rule.config.phase, action, detector: rule.config.detector.kind };
}

/** The guardrails that apply to one request. */
export class ActiveGuardrails {
  readonly requestRules: readonly CompiledRule[];
  readonly responseRules: readonly CompiledRule[];
  /** Characters of a stream held back: the largest of the applying policies' windows. */
  readonly holdBackChars: number;

  constructor(readonly policies: readonly CompiledPolicy[]) {
    this.requestRules = rulesOf(policies, 'Request');
    this.responseRules = rulesOf(policies, 'Response');
    this.holdBackChars = Math.max(0, ...policies.map((p) => p.config.holdBackChars));
  }

  /** Runs the request rules; a masked body is what goes upstream. */
  checkRequest(body: JsonObject, promptTokens: number, info: RequestInfo): Promise<CheckResult> {
    const text = requestText(body);
    const refused = this.unsupported(body, text);
    if (refused !== undefined) return Promise.resolve({ body, decisions: [], masked: [], blocked: refused });
    return runRules(this.requestRules, body, text, info, promptTokens);
  }

  /**
   * What the request asks for that the rules could not check, refused rather than let through:
   * logprobs and a spoken answer under response rules (they repeat the answer's text where no rule
   * can mask it), and, under rules that read the text, a piece of it the checker cannot read.
   */
  private unsupported(body: JsonObject, text: BodyText): GatewayError | undefined {
    // Token counts (maxPromptTokens) are estimated whatever the form: only rules that read text need it readable.
    const reader = this.requestRules.find((r) => r.kind !== 'size');
    const unreadable = text.unreadable[0];
    if (reader !== undefined && unreadable !== undefined) return guardrailUnsupported(reader.policy, unreadable.param, unreadable.why);
    const rule = this.responseRules[0];
    if (rule === undefined) return undefined;
    const field = logprobsField(body);
    if (field !== undefined) return guardrailUnsupported(rule.policy, field, "is not allowed here: logprobs repeat the answer's tokens outside the text its response rules check and mask; send the request without it");
    const audio = audioField(body);
    if (audio !== undefined) return guardrailUnsupported(rule.policy, audio, 'is not allowed here: a spoken answer says its text in audio, which its response rules can neither check nor mask; ask for a text answer');
    return undefined;
  }

  /** Whether any request rule reads the text (every rule but maxPromptTokens). */
  get readsRequestText(): boolean {
    return this.requestRules.some((r) => r.kind !== 'size');
  }

  /**
   * Runs the request rules that read text on every string of a request forwarded as the client
   * sent it (nativeText); the prompt's size was checked on the canonical request.
   */
  checkNative(body: JsonObject, info: RequestInfo): Promise<CheckResult> {
    return runRules(this.requestRules.filter((r) => r.kind !== 'size'), body, nativeText(body), info, 0);
  }

  /** Runs the response rules on a complete (non-streamed) answer; a masked body is what the client gets. */
  async checkResponse(body: JsonObject, info: RequestInfo): Promise<CheckResult> {
    const result = await runRules(this.responseRules, body, responseText(body), info, 0);
    // The request was refused when it asked for logprobs; an upstream that sends them anyway must not carry the unmasked tokens out.
    return this.responseRules.length === 0 ? result : { ...result, body: withoutLogprobs(result.body) };
  }
}

/**
 * Runs rules in order over the texts; each rule sees the texts as the rules before it left them.
 * The first Block (or a check that fails closed) ends the run.
 */
async function runRules(rules: readonly CompiledRule[], body: JsonObject, text: BodyText, info: RequestInfo, promptTokens: number): Promise<CheckResult> {
  const texts = text.slots.map((s) => s.text);
  const decisions: GuardrailDecision[] = [];
  const masked = new Set<string>();
  // One budget for the custom patterns' matcher across every text and rule of this check: a body of
  // many large texts costs at most what the budget allows, and what it leaves unscanned is Unscanned.
  const budget = new PatternBudget();
  const done = (blocked?: GatewayError): CheckResult => {
    const changed = masked.size > 0;
    return { body: changed ? text.write(texts) : body, decisions, masked: [...masked], ...(blocked === undefined ? {} : { blocked }) };
  };
  for (const rule of rules) {
    const action = rule.config.action;
    if (rule.kind === 'span') {
      const findings: Record<string, number> = {};
      // JSON text (tool-call arguments, tool results) is scanned decoded: an escape must not hide what the tool or model reads.
      const scan = (t: string, json: boolean): Span[] => (json ? scanDecoded(t, (d) => rule.scan(d, budget)) : rule.scan(t, budget));
      const scans = texts.map((t, i) => scan(t, text.slots[i]?.json === true));
      scans.forEach((spans) => countTypes(spans, findings));
      // A match cut across the text parts of one message (read by the model as one text).
      const across = acrossJoins(text.slots, texts, scans, scan);
      if (across !== undefined) {
        countTypes(across.crossing, findings);
        across.pieces.forEach((pieces, i) => (scans[i] = withPieces(scans[i] ?? [], pieces)));
      }
      if (Object.keys(findings).length === 0) continue;
      // A finding in text that cannot be masked where it stands (an answer's audio says it too) blocks.
      const unmaskable = action === 'Mask' && scans.some((spans, i) => spans.length > 0 && text.slots[i]?.unmaskable === true);
      const d = { ...decision(rule, unmaskable ? 'Block' : action), findings };
      decisions.push(d);
      if (action === 'Block' || unmaskable) return done(guardrailRefusal(d));
      if (action === 'Mask') {
        scans.forEach((spans, i) => {
          if (spans.length > 0) texts[i] = maskSpans(texts[i] ?? '', spans);
        });
        masked.add(rule.policy);
      }
      continue;
    }
    if (rule.kind === 'size') {
      if (promptTokens <= rule.max) continue;
      const d = { ...decision(rule, action), findings: { PromptTokens: promptTokens } };
      decisions.push(d);
      if (action === 'Block') return done(guardrailRefusal(d, `the prompt is about ${promptTokens} tokens, more than the ${rule.max} allowed`));
      continue;
    }
    const slots = text.slots.map((s, i) => ({ role: s.role, text: texts[i] ?? '' }));
    const verdict = await rule.ask(slots, { ...info, policy: rule.policy, rule: rule.config.name, phase: rule.config.phase });
    const base = decision(rule, action);
    // A Mask answer without the masked texts breaks the contract: it counts as no answer.
    const broken = verdict.ok && verdict.flagged && action === 'Mask' && verdict.texts === undefined;
    if (!verdict.ok || broken) {
      const error = verdict.ok ? 'flagged without texts for action Mask' : verdict.error;
      if (rule.failureMode === 'Closed') {
        const d = { ...base, action: 'Block' as const, error };
        decisions.push(d);
        return done(guardrailRefusal(d));
      }
      decisions.push({ ...base, action: 'Allow', error });
      continue;
    }
    if (!verdict.flagged) continue;
    const d: GuardrailDecision = { ...base };
    if (verdict.categories !== undefined) d.categories = verdict.categories;
    if (verdict.reason !== undefined) d.reason = verdict.reason;
    decisions.push(d);
    if (action === 'Mask' && verdict.texts !== undefined && verdict.texts.some((t, i) => text.slots[i]?.unmaskable === true && t !== texts[i])) {
      d.action = 'Block';
      return done(guardrailRefusal(d));
    }
    if (action === 'Block') return done(guardrailRefusal(d));
    if (action === 'Mask' && verdict.texts !== undefined) {
      verdict.texts.forEach((t, i) => (texts[i] = t));
      masked.add(rule.policy);
    }
  }
  return done();
}
