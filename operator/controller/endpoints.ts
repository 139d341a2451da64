import type { GuardrailPolicy } from '../api/guardrail-policy.js';
import type { Provider } from '../api/provider.js';
import type { ServiceEndpointsInput } from '../compile/types.js';
import type { DataplaneEndpoint } from '../distribute/distributor.js';
import { type EndpointSliceObject, SERVICE_NAME_LABEL, type ServiceObject } from './kube-types.js';

function slicesOf(slices: Iterable<EndpointSliceObject>, namespace: string, service: string): EndpointSliceObject[] {
  return [...slices].filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === service);
}

/**
 * The one address family whose slices are read: the Service's primary family, else IPv4 when any
 * slice has it. A dual-stack Service has an IPv4 and an IPv6 slice listing the same pods; reading
 * both listed every pod twice (twice its share of picks, two scrape loops, a doubled pod count).
 */
function familyOf(slices: readonly EndpointSliceObject[], service?: ServiceObject): string | undefined {
  const primary = service?.spec?.ipFamilies?.[0];
  if (primary !== undefined) return primary;
  const types = new Set(slices.map((s) => s.addressType));
  return types.has('IPv4') ? 'IPv4' : types.has('IPv6') ? 'IPv6' : undefined;
}

interface Address {
  ip: string;
  port: number;
  ready: boolean;
  terminating: boolean;
}

/**
 * The addresses of a Service port, one per ip:port: the EndpointSlice controller may list an
 * endpoint in two slices while it rebalances them, and consumers must de-duplicate (a copy is
 * ready only when every copy says so, terminating when any does).
 */
function addressesFor(slices: EndpointSliceObject[], portName: string, service?: ServiceObject): Address[] {
  const family = familyOf(slices, service);
  const byAddress = new Map<string, Address>();
  for (const slice of slices) {
    if (family !== undefined && slice.addressType !== undefined && slice.addressType !== family) continue;
    const port = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      // A nil ready condition means ready (EndpointSlice API semantics).
      const ready = ep.conditions?.ready !== false;
      const terminating = ep.conditions?.terminating === true;
      for (const ip of ep.addresses) {
        const key = `${ip}:${port}`;
        const seen = byAddress.get(key);
        if (seen === undefined) byAddress.set(key, { ip, port, ready, terminating });
        else byAddress.set(key, { ip, port, ready: seen.ready && ready, terminating: seen.terminating || terminating });
      }
    }
  }
  return [...byAddress.values()].sort((a, b) => `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`));
}

/** A Service port an object names (a Provider's serviceRef, a guardrail webhook's serviceRef). */
export interface ServicePortRef {
  namespace: string;
  name: string;
  port: number;
}

/** The Service ports the Providers and GuardrailPolicy webhooks name. */
export function serviceRefsOf(providers: readonly Provider[], guardrails: readonly GuardrailPolicy[]): ServicePortRef[] {
  const refs: ServicePortRef[] = [];
  for (const p of providers) {
    const ref = p.spec.serviceRef;
    if (ref !== undefined) refs.push({ namespace: p.metadata.namespace ?? 'default', name: ref.name, port: ref.port });
  }
  for (const g of guardrails) {
    for (const r of g.spec.rules) {
      const ref = r.detector.webhook?.serviceRef;
      if (ref !== undefined) refs.push({ namespace: g.metadata.namespace ?? 'default', name: ref.name, port: ref.port });
    }
  }
  return refs;
}

/** Service ports resolved to pod addresses: Service port → its name → the EndpointSlice port of that name. */
export function resolveServiceEndpoints(refs: readonly ServicePortRef[], services: Map<string, ServiceObject>, slices: Iterable<EndpointSliceObject>): ServiceEndpointsInput[] {
  const out: ServiceEndpointsInput[] = [];
  const done = new Set<string>();
  const all = [...slices];
  for (const ref of refs) {
    const ns = ref.namespace;
    const key = `${ns}/${ref.name}:${ref.port}`;
    if (done.has(key)) continue;
    done.add(key);
    const service = services.get(`${ns}/${ref.name}`);
    if (service === undefined) continue;
    const servicePort = service.spec?.ports?.find((sp) => sp.port === ref.port);
    if (servicePort === undefined) {
      out.push({ namespace: ns, service: ref.name, port: ref.port, addresses: [], servicePorts: (service.spec?.ports ?? []).map((sp) => sp.port) });
      continue;
    }
    const addresses = addressesFor(slicesOf(all, ns, ref.name), servicePort.name ?? '', service).map(({ ip, port, ready }) => ({ ip, port, ready }));
    out.push({ namespace: ns, service: ref.name, port: ref.port, addresses });
  }
  return out;
}

/** Data-plane pods: the admin port of every address behind the data-plane Service. */
export function dataplaneEndpoints(slices: Iterable<EndpointSliceObject>, namespace: string, service: string, adminPortName: string): DataplaneEndpoint[] {
  return addressesFor(slicesOf([...slices], namespace, service), adminPortName).map((a) => ({
    address: `${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`,
    ready: a.ready,
    terminating: a.terminating,
  }));
}
