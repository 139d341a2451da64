import type { RuntimeProvider } from '../../runtime/runtime-snapshot.js';
import type { GuardrailConfig, GuardrailRuleConfig } from '../../config/guardrail-config.js';
import { compileDetectors, type PatternBudget, UNSCANNED_MARKER } from '../detectors/index.js';
import type { Transport } from '../../upstream/transport.js';
import type { TextSlot } from './content-text.js';
import { DenyList } from './deny-list.js';
import { moderationCheck } from './moderation-check.js';
import type { RemoteVerdict } from './remote-check.js';
import type { Span } from './span.js';
import { type CheckContext, webhookCheck } from './webhook-check.js';

/** The type reported for text a cap kept from being scanned: it counts as found (Block blocks it, Mask drops it). */
export const UNSCANNED_TYPE = 'Unscanned';

/** One rule, compiled once per snapshot. Span rules find pieces of text; remote rules ask a service. */
export type CompiledRule =
  | {
      policy: string;
      config: GuardrailRuleConfig;
      kind: 'span';
      /** `budget`: the RE2 matcher work the request's scans share (the custom patterns' cost); text past where it ran out is Unscanned. */
      scan(text: string, budget?: PatternBudget): Span[];
    }
  | { policy: string; config: GuardrailRuleConfig; kind: 'size'; max: number }
  | { policy: string; config: GuardrailRuleConfig; kind: 'remote'; ask(texts: readonly TextSlot[], ctx: CheckContext): Promise<RemoteVerdict>; failureMode: 'Open' | 'Closed' };

export interface RuleDeps {
  providers: ReadonlyMap<string, RuntimeProvider>;
  transport: Transport;
}

/** Compiles a rule; throws with the field named when the snapshot carries what the detectors refuse. */
export function compileRule(policy: GuardrailConfig, rule: GuardrailRuleConfig, deps: RuleDeps): CompiledRule {
  const base = { policy: policy.id, config: rule };
  const d = rule.detector;
  switch (d.kind) {
    case 'builtin':
    case 'patterns': {
      const compiled = compileDetectors(d.kind === 'builtin' ? { detectors: d.names } : { detectors: [], customPatterns: d.patterns });
      if (!compiled.ok) throw new Error(`rule ${rule.name}: ${compiled.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
      const set = compiled.detectors;
      return {
        ...base,
        kind: 'span',
        scan: (text, budget) => {
          const r = set.scan(text, budget);
          const spans: Span[] = r.findings.map((f) => ({ type: f.type, marker: f.marker, start: f.start, end: f.end }));
          if (!r.complete) spans.push({ type: UNSCANNED_TYPE, marker: UNSCANNED_MARKER, start: r.scannedLength, end: text.length });
          return spans;
        },
      };
    }
    case 'denyList': {
      const list = new DenyList(d.phrases);
      return {
        ...base,
        kind: 'span',
        scan: (text) => {
          const r = list.find(text);
          if (r.complete) return r.spans;
          return [...r.spans, { type: UNSCANNED_TYPE, marker: UNSCANNED_MARKER, start: r.scannedLength, end: text.length }];
        },
      };
    }
    case 'maxPromptTokens':
      return { ...base, kind: 'size', max: d.max };
    case 'webhook':
      return { ...base, kind: 'remote', failureMode: d.failureMode, ask: (texts, ctx) => webhookCheck(deps.transport, d.url, d.timeoutMs, texts, ctx) };
    case 'moderation':
      return {
        ...base,
        kind: 'remote',
        failureMode: d.failureMode,
        ask: (texts, ctx) => moderationCheck(d.unusable === true ? undefined : deps.providers.get(d.providerId), d.model, d.categories, d.timeoutMs, texts.map((t) => t.text), ctx.signal),
      };
  }
}
