import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Distributor } from '../distribute/distributor.js';
import { dataplaneEndpoints } from './endpoints.js';
import type { EndpointSliceObject } from './kube-types.js';

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
