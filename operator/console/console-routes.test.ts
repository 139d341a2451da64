import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { allowedPath, consoleRouter, METADATA_LIST, METADATA_ONE } from './console-routes.js';

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

describe('the console API', () => {
  it('asks the API server for metadata only when the page says as=metadata (the same path, verb and token)', async () => {
    const asked: { path: string; token: string; accept: string | undefined }[] = [];
    const app = express().use(consoleRouter({ getAs: async (path, token, accept) => (asked.push({ path, token, accept }), { status: 200, body: '{"items":[]}' }) }));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/console/api/k8s/apis/tollgate.dev/v1alpha1`;
    const get = (path: string) => fetch(`${base}${path}`, { headers: { authorization: 'Bearer t' } });
    try {
      for (const path of ['/usagereports?as=metadata', '/namespaces/team-a/usagereports/2026-12-05?as=metadata', '/usagereports']) expect((await get(path)).status).toBe(200);
    } finally {
      server.close();
    }
    expect(asked).toEqual([
      { path: '/apis/tollgate.dev/v1alpha1/usagereports', token: 't', accept: METADATA_LIST },
      { path: '/apis/tollgate.dev/v1alpha1/namespaces/team-a/usagereports/2026-12-05', token: 't', accept: METADATA_ONE },
      { path: '/apis/tollgate.dev/v1alpha1/usagereports', token: 't', accept: undefined },
    ]);
  });
});
