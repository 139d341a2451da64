import { UsageReportStatusSchema, type UsageReportStatus } from '../../operator/api/usage-report.js';
import { KubeError, type KubeObject, METADATA_LIST } from '../../operator/kube/kube-client.js';

/** An API server for UsageReports: create, get, status update with resourceVersion preconditions, metadata-only lists. */
export function fakeUsageReportsApi() {
  const objects = new Map<string, KubeObject & { status?: UsageReportStatus }>();
  let rv = 1;
  const calls: string[] = [];
  let failNext: KubeError | undefined;
  const client = {
    request: async <T>(method: string, path: string, body?: unknown, _contentType?: string, _signal?: AbortSignal, accept = 'application/json'): Promise<T> => {
      calls.push(`${method} ${path}${accept === METADATA_LIST ? ' (metadata only)' : ''}`);
      const listed = (items: KubeObject[]): T => ({ metadata: {}, items: accept === METADATA_LIST ? items.map((o) => ({ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: o.metadata })) : items }) as T;
      if (failNext !== undefined && method === 'PUT') {
        const err = failNext;
        failNext = undefined;
        throw err;
      }
      const m = /namespaces\/([^/]+)\/usagereports(?:\/([^/]+))?(\/status)?$/.exec(path);
      if (m === null) {
        if (method === 'GET') return listed([...objects.values()]);
        throw new KubeError(404, 'no route');
      }
      const [, ns = '', name, status] = m;
      if (method === 'GET' && name === undefined) return listed([...objects.values()].filter((o) => o.metadata.namespace === ns));
      const key = `${ns}/${name ?? (body as KubeObject).metadata.name}`;
      if (method === 'GET') {
        const o = objects.get(key);
        if (o === undefined) throw new KubeError(404, 'not found');
        return structuredClone(o) as T;
      }
      if (method === 'POST') {
        if (objects.has(key)) throw new KubeError(409, 'exists');
        const o = { ...(body as KubeObject), metadata: { ...(body as KubeObject).metadata, resourceVersion: String(rv++) } };
        objects.set(key, o);
        return structuredClone(o) as T;
      }
      if (method === 'PUT' && status !== undefined) {
        const o = objects.get(key);
        if (o === undefined) throw new KubeError(404, 'not found');
        const given = body as KubeObject & { status: UsageReportStatus };
        if (given.metadata.resourceVersion !== o.metadata.resourceVersion) throw new KubeError(409, 'conflict');
        const parsed = UsageReportStatusSchema.safeParse(given.status);
        if (!parsed.success) throw new KubeError(422, parsed.error.message);
        const next = { ...o, status: given.status, metadata: { ...o.metadata, resourceVersion: String(rv++) } };
        objects.set(key, next);
        return structuredClone(next) as T;
      }
      if (method === 'PATCH' && name !== undefined) {
        const o = objects.get(key);
        if (o === undefined) throw new KubeError(404, 'not found');
        const given = body as { metadata: { resourceVersion?: string; annotations?: Record<string, string> } };
        if (given.metadata.resourceVersion !== undefined && given.metadata.resourceVersion !== o.metadata.resourceVersion) throw new KubeError(409, 'conflict');
        const next = { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, ...given.metadata.annotations }, resourceVersion: String(rv++) } };
        objects.set(key, next);
        return structuredClone(next) as T;
      }
      if (method === 'DELETE') {
        objects.delete(key);
        return {} as T;
      }
      throw new KubeError(405, 'unexpected');
    },
  };
  return { client, objects, calls, failPut: (err: KubeError) => (failNext = err) };
}

