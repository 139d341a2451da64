import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Distributor } from '../distribute/distributor.js';
import { dataplaneEndpoints, resolveServiceEndpoints } from './endpoints.js';
import type { EndpointSliceObject, ServiceObject } from './kube-types.js';

const slice = (endpoints: NonNullable<EndpointSliceObject['endpoints']>): EndpointSliceObject => ({
  metadata: { name: 'dp-abc', namespace: 'tollgate', labels: { 'kubernetes.io/service-name': 'tollgate-dataplane' } },
  ports: [{ name: 'admin', port: 9090 }],
  endpoints,
});

describe('data-plane pods counted for Budget shares', () => {
  it('counts the terminating pods that still serve as well as the ready ones, and not the starting ones', () => {
    // A rolling update: two ready pods, one in its preStop delay (still serving), one draining, one starting.
    const endpoints = dataplaneEndpoints(
      [
        slice([
          { addresses: ['10.0.0.1'], conditions: { ready: true, serving: true, terminating: false } },
          { addresses: ['10.0.0.2'], conditions: {} },
          { addresses: ['10.0.0.3'], conditions: { ready: false, serving: true, terminating: true } },
          { addresses: ['10.0.0.4'], conditions: { ready: false, serving: false, terminating: true } },
          { addresses: ['10.0.0.5'], conditions: { ready: false, serving: false, terminating: false } },
        ]),
      ],
      'tollgate',
      'tollgate-dataplane',
      'admin',
    );
    const distributor = new Distributor({ token: 't', logger: pino({ level: 'silent' }) });
    distributor.setEndpoints(endpoints);
    distributor.stop();
    expect(distributor.readyCount()).toBe(2);
    expect(distributor.servingCount()).toBe(4);
  });
});

describe('Service ports resolved to pod addresses', () => {
  const service = (ipFamilies?: string[]): Map<string, ServiceObject> =>
    new Map([['ml/llama', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'llama', namespace: 'ml' }, spec: { ports: [{ name: 'http', port: 8000 }], ...(ipFamilies === undefined ? {} : { ipFamilies }) } }]]);
  const llamaSlice = (name: string, addressType: string, eps: [string, boolean][]): EndpointSliceObject => ({
    addressType,
    metadata: { name, namespace: 'ml', labels: { 'kubernetes.io/service-name': 'llama' } },
    ports: [{ name: 'http', port: 8000 }],
    endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready } })),
  });
  const resolve = (services: Map<string, ServiceObject>, slices: EndpointSliceObject[]): unknown =>
    resolveServiceEndpoints([{ namespace: 'ml', name: 'llama', port: 8000 }], services, slices)[0]?.addresses;

  it('lists a pod once when two slices both list it (the slice controller rebalancing)', () => {
    const slices = [llamaSlice('llama-a', 'IPv4', [['10.0.0.1', true], ['10.0.0.2', true]]), llamaSlice('llama-b', 'IPv4', [['10.0.0.2', true], ['10.0.0.3', false]])];
    expect(resolve(service(), slices)).toEqual([
      { ip: '10.0.0.1', port: 8000, ready: true },
      { ip: '10.0.0.2', port: 8000, ready: true },
      { ip: '10.0.0.3', port: 8000, ready: false },
    ]);
    // A copy that is not ready wins: the other may be the stale one.
    const stale = [llamaSlice('llama-a', 'IPv4', [['10.0.0.1', true]]), llamaSlice('llama-b', 'IPv4', [['10.0.0.1', false]])];
    expect(resolve(service(), stale)).toEqual([{ ip: '10.0.0.1', port: 8000, ready: false }]);
  });

  it("reads one address family of a dual-stack Service: its primary, else IPv4", () => {
    const slices = [llamaSlice('llama-v4', 'IPv4', [['10.0.0.1', true], ['10.0.0.2', true]]), llamaSlice('llama-v6', 'IPv6', [['fd00::1', true], ['fd00::2', true]])];
    expect(resolve(service(), slices)).toEqual([
      { ip: '10.0.0.1', port: 8000, ready: true },
      { ip: '10.0.0.2', port: 8000, ready: true },
    ]);
    expect(resolve(service(['IPv6', 'IPv4']), slices)).toEqual([
      { ip: 'fd00::1', port: 8000, ready: true },
      { ip: 'fd00::2', port: 8000, ready: true },
    ]);
  });
});
