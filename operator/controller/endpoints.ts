import type { GuardrailPolicy } from '../api/guardrail-policy.js';
import type { Provider } from '../api/provider.js';
import type { ServiceEndpointsInput } from '../compile/types.js';
import type { DataplaneEndpoint } from '../distribute/distributor.js';
import { type EndpointSliceObject, SERVICE_NAME_LABEL, type ServiceObject } from './kube-types.js';

function slicesOf(slices: Iterable<EndpointSliceObject>, namespace: string, service: string): EndpointSliceObject[] {
  return [...slices].filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === service);
}

function addressesFor(slices: EndpointSliceObject[], portName: string): { ip: string; port: number; ready: boolean; terminating: boolean }[] {
  const out: { ip: string; port: number; ready: boolean; terminating: boolean }[] = [];
  for (const slice of slices) {
    const port = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (port === undefined || port === null) continue;
    for (const ep of slice.endpoints ?? []) {
      // A nil ready condition means ready (EndpointSlice API semantics).
      const ready = ep.conditions?.ready !== false;
      const terminating = ep.conditions?.terminating === true;
      for (const ip of ep.addresses) out.push({ ip, port, ready, terminating });
    }
  }
  return out.sort((a, b) => `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`));
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
    const addresses = addressesFor(slicesOf(all, ns, ref.name), servicePort.name ?? '').map(({ ip, port, ready }) => ({ ip, port, ready }));
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
