import { z } from 'zod';
import { ApiKeyConfigSchema, BudgetConfigSchema, ProviderConfigSchema, type RouteConfig, RouteConfigSchema, type Snapshot, SnapshotSchema } from '../config/snapshot.js';
import { DataPolicyConfigSchema } from '../config/data-policy-config.js';
import { GuardrailConfigSchema } from '../config/guardrail-config.js';
import { runToEnd, type Steps } from '../config/sliced.js';
import { compileHeaderPattern } from '../config/header-pattern.js';
import { guardrailLoadProblems, providerLoadProblem, routeLoadProblems } from '../config/load-checks.js';
import { compareIds } from '../config/id-order.js';
import { type RuntimeProvider, runtimeProvider } from '../providers/registry.js';
import type { Transport } from '../upstream/transport.js';
import { ApiKeyIndex } from './api-key-index.js';
import { type CompiledRule, compileRules, type HeaderLookup } from './rule-matcher.js';
import { droppedFieldSteps } from '../config/unknown-fields.js';

export type { RuntimeProvider };

export interface RuntimeRoute {
  config: RouteConfig;
  matches(header: HeaderLookup): boolean;
  /** The route's rules in order (one catch-all named default for a route without rules). */
  rules: CompiledRule[];
}

/** A validated snapshot with the indexes the hot path needs, built once per snapshot. */
export interface RuntimeSnapshot {
  snapshot: Snapshot;
  providers: Map<string, RuntimeProvider>;
  routesByModel: Map<string, RuntimeRoute[]>;
  /** Public model names with their creation time, for /v1/models. */
  models: { id: string; created: number }[];
  /** Client API keys by keyed digest. */
  apiKeys: ApiKeyIndex;
}

export type BuildResult = { ok: true; runtime: RuntimeSnapshot } | { ok: false; error: string };

function matcherFor(route: RouteConfig): (header: HeaderLookup) => boolean {
  if (route.matches.length === 0) return () => true;
  const compiled = route.matches.map((m) =>
    m.headers.map((h) => {
      if (h.type === 'Exact') return (header: HeaderLookup) => header(h.name) === h.value;
      const compiled = compileHeaderPattern(h.value);
      if (!compiled.ok) throw new Error(compiled.error);
      const re = compiled.pattern;
      return (header: HeaderLookup) => {
        const v = header(h.name);
        return v !== undefined && re.test(v);
      };
    }),
  );
  return (header) => compiled.some((all) => all.every((test) => test(header)));
}

/**
 * The snapshot's arrays, validated item by item (a step each) so that a large snapshot can be
 * validated in slices; everything else is validated at once by the shallow schema. Parsing each
 * item with its own schema is what SnapshotSchema does inside its arrays.
 */
const ITEM_SCHEMAS = {
  providers: ProviderConfigSchema,
  routes: RouteConfigSchema,
  apiKeys: ApiKeyConfigSchema,
  budgets: BudgetConfigSchema,
  guardrails: GuardrailConfigSchema,
  dataPolicies: DataPolicyConfigSchema,
} as const;
const ShallowSnapshotSchema = SnapshotSchema.extend({
  providers: z.array(z.unknown()),
  routes: z.array(z.unknown()),
  apiKeys: z.array(z.unknown()),
  budgets: z.array(z.unknown()),
  guardrails: z.array(z.unknown()).optional(),
  dataPolicies: z.array(z.unknown()).optional(),
});

type ParseResult = { ok: true; snapshot: Snapshot } | { ok: false; error: string };

/** SnapshotSchema.safeParse, one step per array item. */
function* parseSnapshotSteps(input: unknown): Steps<ParseResult> {
  const shallow = ShallowSnapshotSchema.safeParse(input);
  if (!shallow.success) return parseWhole(input);
  const parsed: Record<string, unknown> = { ...shallow.data };
  for (const key of Object.keys(ITEM_SCHEMAS) as (keyof typeof ITEM_SCHEMAS)[]) {
    const items = shallow.data[key];
    if (items === undefined) continue;
    const schema: z.ZodType = ITEM_SCHEMAS[key];
    const out: unknown[] = new Array<unknown>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = schema.safeParse(items[i]);
      // Refused: the whole snapshot again, so that the issue reported is the one SnapshotSchema
      // reports first (an earlier member's may come after this item's in this order).
      if (!item.success) return parseWhole(input);
      out[i] = item.data;
      yield;
    }
    parsed[key] = out;
  }
  return { ok: true, snapshot: parsed as Snapshot };
}

function parseWhole(input: unknown): ParseResult {
  const parsed = SnapshotSchema.safeParse(input);
  if (parsed.success) return { ok: true, snapshot: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `invalid snapshot at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'unknown'}` };
}

/** Validates an untrusted snapshot and builds its runtime form; never throws. */
export function buildRuntimeSnapshot(input: unknown, httpTransport: Transport): BuildResult {
  return runToEnd(buildRuntimeSnapshotSteps(input, httpTransport));
}

/** buildRuntimeSnapshot in steps (an item of the snapshot's arrays each), to be run in slices. */
export function* buildRuntimeSnapshotSteps(input: unknown, httpTransport: Transport): Steps<BuildResult> {
  const parsed = yield* parseSnapshotSteps(input);
  if (!parsed.ok) return parsed;
  const snapshot = parsed.snapshot;
  // A field this data plane does not know is refused, not dropped: it may be one that restricts.
  const dropped = yield* droppedFieldSteps(input, snapshot);
  if (dropped !== undefined) return { ok: false, error: `snapshot field ${dropped} is unknown to this data plane: it is older than the operator that compiled the snapshot; upgrade it (the last good snapshot is still served)` };
  const providers = new Map<string, RuntimeProvider>();
  for (const p of snapshot.providers) {
    const problem = providerLoadProblem(p);
    if (problem !== undefined) return { ok: false, error: `provider ${p.id}: ${problem.path}: ${problem.message}` };
    // providerLoadProblem refused every unsupported type.
    try {
      providers.set(p.id, runtimeProvider(p, httpTransport));
    } catch (err) {
      return { ok: false, error: `provider ${p.id}: ${(err as Error).message}` };
    }
    yield;
  }
  const providerIds = new Set(providers.keys());
  const routesByModel = new Map<string, RuntimeRoute[]>();
  const models = new Map<string, number>();
  for (const r of snapshot.routes) {
    const problem = routeLoadProblems(r, providerIds)[0];
    if (problem !== undefined) return { ok: false, error: `route ${r.id}: ${problem.path}: ${problem.message}` };
    let matches: (header: HeaderLookup) => boolean;
    let rules: CompiledRule[];
    try {
      matches = matcherFor(r);
      rules = compileRules(r);
    } catch (err) {
      return { ok: false, error: `route ${r.id}: bad header match: ${(err as Error).message}` };
    }
    const list = routesByModel.get(r.model) ?? [];
    list.push({ config: r, matches, rules });
    routesByModel.set(r.model, list);
    models.set(r.model, Math.min(models.get(r.model) ?? r.created, r.created));
    yield;
  }
  for (const g of snapshot.guardrails ?? []) {
    const problem = guardrailLoadProblems(g)[0];
    if (problem !== undefined) return { ok: false, error: `guardrail ${g.id}: ${problem.path}: ${problem.message}` };
    yield;
  }
  return {
    ok: true,
    runtime: {
      snapshot,
      providers,
      routesByModel,
      models: [...models].map(([id, created]) => ({ id, created })).sort((a, b) => compareIds(a.id, b.id)),
      apiKeys: new ApiKeyIndex(snapshot),
    },
  };
}
