import { isSupportedProviderType, type ProviderConfig, type RouteConfig, type Snapshot, SnapshotSchema } from './snapshot.js';
import { adapterFor } from '../providers/registry.js';
import { MockTransport } from '../providers/mock/mock-transport.js';
import type { AccessTokenSource, ProviderAdapter } from '../providers/types.js';
import { ServiceAccountTokenSource } from '../providers/vertex/service-account-token-source.js';
import type { Transport } from '../upstream/transport.js';
import { type CompiledRule, compileRules } from '../routing/rules/rule-matcher.js';

export interface RuntimeProvider {
  config: ProviderConfig;
  adapter: ProviderAdapter;
  transport: Transport;
  /** Mints bearer tokens before each attempt (Vertex service-account keys). */
  tokenSource?: AccessTokenSource;
}

/** Settings a provider type cannot work without; compile guarantees them, an untrusted snapshot may not. */
function missingSettings(p: ProviderConfig): string | undefined {
  if (p.type === 'bedrock' && p.bedrock === undefined) return 'bedrock provider without bedrock settings (region)';
  if (p.type === 'vertex' && p.vertex === undefined) return 'vertex provider without vertex settings (project, location)';
  return undefined;
}

export type HeaderLookup = (name: string) => string | undefined;

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
}

export type BuildResult = { ok: true; runtime: RuntimeSnapshot } | { ok: false; error: string };

function matcherFor(route: RouteConfig): (header: HeaderLookup) => boolean {
  if (route.matches.length === 0) return () => true;
  const compiled = route.matches.map((m) =>
    m.headers.map((h) => {
      if (h.type === 'Exact') return (header: HeaderLookup) => header(h.name) === h.value;
      const re = new RegExp(`^(?:${h.value})$`);
      return (header: HeaderLookup) => {
        const v = header(h.name);
        return v !== undefined && re.test(v);
      };
    }),
  );
  return (header) => compiled.some((all) => all.every((test) => test(header)));
}

/** Validates an untrusted snapshot and builds its runtime form; never throws. */
export function buildRuntimeSnapshot(input: unknown, httpTransport: Transport): BuildResult {
  const parsed = SnapshotSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `invalid snapshot at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'unknown'}` };
  }
  const snapshot = parsed.data;
  const providers = new Map<string, RuntimeProvider>();
  for (const p of snapshot.providers) {
    if (!isSupportedProviderType(p.type)) return { ok: false, error: `provider ${p.id}: unsupported type ${p.type}` };
    if (p.type === 'mock' && p.mock === undefined) return { ok: false, error: `provider ${p.id}: mock provider without mock settings` };
    const missing = missingSettings(p);
    if (missing !== undefined) return { ok: false, error: `provider ${p.id}: ${missing}` };
    const transport = p.type === 'mock' && p.mock !== undefined ? new MockTransport(p.mock) : httpTransport;
    const runtime: RuntimeProvider = { config: p, adapter: adapterFor(p.type), transport };
    const serviceAccountKey = p.vertex?.serviceAccountKey;
    if (serviceAccountKey !== undefined) {
      try {
        runtime.tokenSource = new ServiceAccountTokenSource(serviceAccountKey, httpTransport);
      } catch (err) {
        return { ok: false, error: `provider ${p.id}: ${(err as Error).message}` };
      }
    }
    providers.set(p.id, runtime);
  }
  const routesByModel = new Map<string, RuntimeRoute[]>();
  const models = new Map<string, number>();
  for (const r of snapshot.routes) {
    for (const t of r.targets) {
      if (!providers.has(t.providerId)) return { ok: false, error: `route ${r.id}: target provider ${t.providerId} is not in the snapshot` };
    }
    const badIndex = r.rules?.flatMap((rule) => rule.targets).find((i) => i >= r.targets.length);
    if (badIndex !== undefined) return { ok: false, error: `route ${r.id}: rule target ${badIndex} is not among the route's ${r.targets.length} targets` };
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
  }
  return {
    ok: true,
    runtime: {
      snapshot,
      providers,
      routesByModel,
      models: [...models].map(([id, created]) => ({ id, created })).sort((a, b) => a.id.localeCompare(b.id)),
    },
  };
}
