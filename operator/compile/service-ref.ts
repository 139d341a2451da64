import type { Problem } from './conditions.js';
import type { ServiceEndpointsInput } from './types.js';

/** The Service ports the operator resolved, by `namespace/service:port`. */
export type ResolvedServices = ReadonlyMap<string, ServiceEndpointsInput>;

export function resolvedServices(endpoints: readonly ServiceEndpointsInput[] | undefined): ResolvedServices {
  return new Map((endpoints ?? []).map((e) => [`${e.namespace}/${e.service}:${e.port}`, e]));
}

/**
 * A serviceRef's ready addresses (undefined when the Service or its port is missing) and, when it
 * cannot be reached, why: the Service is missing, has no such port, or has no ready endpoint. `field` is the serviceRef's path in the
 * object's spec, named in the message so the fix is obvious.
 */
export function checkServiceRef(
  services: ResolvedServices,
  ns: string,
  ref: { name: string; port: number },
  field: string,
): { problem?: Problem; ready?: { ip: string; port: number }[] } {
  const resolved = services.get(`${ns}/${ref.name}:${ref.port}`);
  if (resolved === undefined) return { problem: { reason: 'ServiceNotFound', message: `Service ${ns}/${ref.name} not found: create it or fix ${field}.name` } };
  if (resolved.servicePorts !== undefined) {
    const has = resolved.servicePorts.length === 0 ? 'none' : resolved.servicePorts.join(', ');
    return { problem: { reason: 'ServicePortNotFound', message: `Service ${ns}/${ref.name} has no port ${ref.port} (its ports: ${has}): fix ${field}.port` } };
  }
  const ready = resolved.addresses.filter((a) => a.ready).map(({ ip, port }) => ({ ip, port }));
  if (ready.length > 0) return { ready };
  const total = resolved.addresses.length;
  const why = total === 0 ? 'it selects no pods (check its selector and that the pods exist)' : `0 of ${total} endpoints are ready (check the pods' readiness)`;
  return { problem: { reason: 'NoReadyEndpoints', message: `Service ${ns}/${ref.name} port ${ref.port} has no ready endpoints: ${why}` }, ready };
}
