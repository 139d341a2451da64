import { describe, expect, it } from 'vitest';
import type { EndpointSliceObject } from '../controller/kube-types.js';
import { PROVEN_NAMES_PER_POD, ReportingPods } from './reporting-pods.js';

/** The data-plane Service's slice as the EndpointSlice controller writes it: one endpoint per pod, with its targetRef. */
function slice(pods: Record<string, string>, name = 'tollgate-dataplane-abcde'): EndpointSliceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'tollgate-system', labels: { 'kubernetes.io/service-name': 'tollgate-dataplane' } },
    addressType: 'IPv4',
    endpoints: Object.entries(pods).map(([pod, ip]) => ({ addresses: [ip], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod } })),
    ports: [{ name: 'admin', port: 9090 }],
  } as EndpointSliceObject;
}

const setup = (pods: Record<string, string>) => {
  const slices = new Map([['s', slice(pods)]]);
  return { slices, reporters: new ReportingPods(() => slices.values(), 'tollgate-system', 'tollgate-dataplane') };
};

describe('ReportingPods', () => {
  it('takes a pod reporting under its own name from its own address, and ranks that name highest', () => {
    const { reporters } = setup({ 'dp-7f9c-a': '10.0.0.1', 'dp-7f9c-b': '10.0.0.2' });
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '10.0.0.1')).toBeUndefined();
    // A v4 peer on a dual-stack socket.
    expect(reporters.check('dp-7f9c-b-00ff00ff', '::ffff:10.0.0.2')).toBeUndefined();
    expect(reporters.rank('dp-7f9c-a-0a1b2c3d')).toBe(2);
    expect(reporters.rank('dp-7f9c-a-99999999')).toBe(1); // that pod's name, but not a start it reported under
    expect(reporters.rank('made-up-12345678')).toBe(0);
  });

  it("refuses a pod's report under another data-plane pod's name", () => {
    const { reporters } = setup({ 'dp-7f9c-a': '10.0.0.1', 'dp-7f9c-b': '10.0.0.2' });
    expect(reporters.check('dp-7f9c-b-0a1b2c3d', '10.0.0.1')).toMatch(/another data-plane pod's address/);
  });

  it('refuses a report naming a pod that reports from its own address, from any other address', () => {
    const { reporters } = setup({ 'dp-7f9c-a': '10.0.0.1' });
    // Not yet seen from its address: a report from an address no pod has (a proxy) is taken.
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '127.0.0.6')).toBeUndefined();
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '10.0.0.1')).toBeUndefined();
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '10.9.9.9')).toMatch(/reports from its own address/);
    expect(reporters.check('dp-7f9c-a-ffffffff', '10.9.9.9')).toMatch(/reports from its own address/);
  });

  it('takes names no data-plane pod has from anywhere, ranked lowest (a pod not in the slices yet, a proxy)', () => {
    const { reporters } = setup({ 'dp-7f9c-a': '10.0.0.1' });
    expect(reporters.check('fresh-pod-0a1b2c3d', '10.0.0.1')).toBeUndefined();
    expect(reporters.check('fresh-pod-0a1b2c3d', '10.0.0.7')).toBeUndefined();
    expect(reporters.rank('fresh-pod-0a1b2c3d')).toBe(0);
  });

  it('matches a pod by its hostname, cut to 63 characters as the kubelet cuts it', () => {
    const long = `${'a'.repeat(62)}-b-tail`;
    const { reporters } = setup({ [long]: '10.0.0.1' });
    expect(reporters.check(`${'a'.repeat(62)}-0a1b2c3d`, '10.0.0.1')).toBeUndefined();
    expect(reporters.rank(`${'a'.repeat(62)}-0a1b2c3d`)).toBe(2);
  });

  it('follows the slices: a pod gone from them is no longer bound or ranked', () => {
    const { slices, reporters } = setup({ 'dp-7f9c-a': '10.0.0.1' });
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '10.0.0.1')).toBeUndefined();
    slices.set('s', slice({ 'dp-7f9c-c': '10.0.0.1' }));
    expect(reporters.check('dp-7f9c-a-0a1b2c3d', '10.0.0.9')).toBeUndefined();
    expect(reporters.rank('dp-7f9c-a-0a1b2c3d')).toBe(0);
    // The new pod at the address is bound by the same rules.
    expect(reporters.check('dp-7f9c-c-0a1b2c3d', '10.0.0.1')).toBeUndefined();
    expect(reporters.check('dp-7f9c-c-0a1b2c3d', '10.0.0.9')).toMatch(/reports from its own address/);
  });

  it(`keeps the ${PROVEN_NAMES_PER_POD} most recent names a pod reported under`, () => {
    const { reporters } = setup({ 'dp-7f9c-a': '10.0.0.1' });
    const names = Array.from({ length: PROVEN_NAMES_PER_POD + 2 }, (_, i) => `dp-7f9c-a-${String(i).padStart(8, '0')}`);
    for (const name of names) expect(reporters.check(name, '10.0.0.1')).toBeUndefined();
    expect(names.map((n) => reporters.rank(n))).toEqual([1, 1, ...Array<number>(PROVEN_NAMES_PER_POD).fill(2)]);
  });
});
