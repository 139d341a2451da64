import { PASS_THROUGH_ENDPOINTS, type PassThroughEndpoint } from '../../dataplane/config/pass-through-endpoints.js';
import { passThroughEndpointsOf, SUPPORTED_PROVIDER_TYPES, type TargetConfig } from '../../dataplane/config/snapshot.js';
import { condition } from './conditions.js';
import type { CompiledProvider } from './compile-providers.js';
import type { ComputedCondition } from './types.js';

/**
 * Whether every pass-through endpoint the route lists has a target that can forward it (its
 * Provider's type serves it untranslated). An Anthropic or Gemini route listing `files` serves none
 * of those calls: each is a 400 `endpoint_not_supported`. Before, nothing said so at load time.
 * False (a Warning Event on the flip, a `tollgate dev` warning) names the endpoints and the Provider
 * types that serve them; the route serves the rest. Undefined for a route without passThrough.
 */
export function passThroughServedCondition(
  endpoints: readonly PassThroughEndpoint[] | undefined,
  targets: readonly TargetConfig[],
  providers: ReadonlyMap<string, CompiledProvider>,
  gen: number | undefined,
): ComputedCondition | undefined {
  if (endpoints === undefined) return undefined;
  const served = new Set(targets.flatMap((t) => {
    const type = providers.get(t.providerId)?.source.spec.type;
    return type === undefined ? [] : passThroughEndpointsOf(type);
  }));
  const unserved = PASS_THROUGH_ENDPOINTS.filter((e) => endpoints.includes(e) && !served.has(e));
  if (unserved.length === 0) return condition('PassThroughServed', true, 'Served', 'every pass-through endpoint has a target that serves it', gen);
  const named = unserved.map((e) => `${e} (served by Provider types ${SUPPORTED_PROVIDER_TYPES.filter((type) => passThroughEndpointsOf(type).includes(e)).join(', ')})`);
  return condition('PassThroughServed', false, 'EndpointNotServed', `spec.passThrough.endpoints lists endpoints no target of this route can serve, whose calls are answered 400 endpoint_not_supported: ${named.join('; ')}`, gen);
}
