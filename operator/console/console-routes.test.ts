import { describe, expect, it } from 'vitest';
import { allowedPath } from './console-routes.js';

const q = (s = '') => new URLSearchParams(s);

describe("the console's reach into the Kubernetes API", () => {
  it("reads Tollgate's resources, listed or by name, in a namespace or across them", () => {
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports', q())).toBe('/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports');
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/usagereports', q('limit=10&labelSelector=x'))).toBe('/apis/tollgate.dev/v1alpha1/usagereports?limit=10');
    expect(allowedPath('/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets/daily', q())).toBe('/apis/tollgate.dev/v1alpha1/namespaces/team-a/budgets/daily');
  });

  it('reads Events only about Tollgate objects, whatever selector is asked for', () => {
    expect(allowedPath('/api/v1/namespaces/team-a/events', q('fieldSelector=type=Warning'))).toBe('/api/v1/namespaces/team-a/events?fieldSelector=involvedObject.apiVersion%3Dtollgate.dev%2Fv1alpha1');
  });

  it('reads nothing else', () => {
    for (const path of [
      '/api/v1/namespaces/team-a/secrets',
      '/api/v1/secrets',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/x/status/../../../secrets',
      '/apis/tollgate.dev/v1alpha1/namespaces/team-a/datapolicies',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      '/api/v1/namespaces/team-a/events/x',
      '/apis/tollgate.dev/v1alpha1/namespaces/Team_A/budgets',
    ]) {
      expect(allowedPath(path, q()), path).toBeUndefined();
    }
  });
});
