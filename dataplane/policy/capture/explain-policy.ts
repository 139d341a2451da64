import type { DataPolicyConfig } from '../../config/data-policy-config.js';
import { type Caller, namespaceOnRoute } from '../../core/caller.js';
import type { JsonObject } from '../../core/canonical.js';
import type { CaptureSampler } from './capture-sampler.js';
import { optOut } from './capture-service.js';
import { selectPolicy } from './select-policy.js';

/** Which of the policy's subjects selected the request, in precedence order. */
function matchedBy(p: DataPolicyConfig, caller: Caller, routeId: string): string {
  if (p.subjects.routes.includes(routeId)) return `route ${routeId}`;
  const identity = `${caller.namespace ?? ''}/${caller.name ?? ''}`;
  if (caller.kind === 'serviceaccount' && p.subjects.serviceAccounts.includes(identity)) return `ServiceAccount ${identity}`;
  if (caller.kind === 'apikey' && p.subjects.apiKeys.includes(identity)) return `API key ${identity}`;
  return `namespace ${namespaceOnRoute(caller, routeId) ?? ''}`;
}

/**
 * The DataPolicy that would govern a request (for /debug/route): which policy and why, the mode
 * that applies to this request (the caller's opt-out header included), what a record carries and
 * where it goes; with a request id, whether that id is sampled (by the data plane's own sampler). Null when no policy applies: then
 * nothing is recorded. Never credentials: destinations by name and kind only.
 */
export function explainDataPolicy(
  policies: readonly DataPolicyConfig[] | undefined,
  caller: Caller,
  routeId: string,
  header: (name: string) => string | undefined,
  sampler: CaptureSampler,
  requestId?: string,
): JsonObject | null {
  const p = policies === undefined ? undefined : selectPolicy(policies, caller, routeId);
  if (p === undefined) return null;
  const optedOut = p.mode !== 'None' && optOut(p, header);
  const out: JsonObject = {
    policy: p.id,
    matchedBy: matchedBy(p, caller, routeId),
    mode: optedOut ? 'Metadata' : p.mode,
    optedOut,
    allowOptOut: p.allowOptOut,
    sampleRate: p.sampleRate,
    parts: [...(p.parts.request ? ['Request'] : []), ...(p.parts.response ? ['Response'] : [])],
    maxRecordBytes: p.maxRecordBytes,
    redaction: { detectors: p.redaction.detectors, customPatterns: p.redaction.customPatterns.map((c) => c.name) },
    destinations: p.destinations.map((d) => ({ name: d.name, type: d.type })),
  };
  if (requestId !== undefined && p.mode !== 'None') out.sampled = sampler.sampled(requestId, p.sampleRate);
  return out;
}
