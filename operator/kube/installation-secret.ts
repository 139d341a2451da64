import type { Logger } from 'pino';
import type { SecretObject } from '../controller/kube-types.js';
import { KubeError, type KubeClient } from './kube-client.js';

export interface InstallationSecretRef {
  namespace: string;
  name: string;
  /** Set as the Secret's owner when it is created, so that it goes when its owner goes (helm uninstall). */
  owner?: OwnerReference;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * The operator's ServiceAccount as the owner of the Secrets it creates: Helm deletes it on
 * uninstall, and the garbage collector then deletes them (an upgrade keeps it, and them).
 */
export async function serviceAccountOwner(client: KubeClient, namespace: string, name: string): Promise<OwnerReference> {
  const sa = await client.request<{ metadata: { uid?: string } }>('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
  if (sa.metadata.uid === undefined) throw new Error(`ServiceAccount ${namespace}/${name} has no uid`);
  return { apiVersion: 'v1', kind: 'ServiceAccount', name, uid: sa.metadata.uid };
}

const decode = (data: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));

/**
 * Reads a Secret the installation owns (the API key hash key, the channel's CA), creating it with
 * `generate()` when it does not exist yet. Two replicas may race to create it: the loser reads the
 * winner's, so every replica ends up with the same values. A Secret that lacks a required key is
 * an error (it was provided by someone else: the operator does not overwrite it).
 */
export async function ensureInstallationSecret(
  client: KubeClient,
  ref: InstallationSecretRef,
  required: readonly string[],
  generate: () => Record<string, string>,
): Promise<Record<string, string>> {
  const path = `/api/v1/namespaces/${ref.namespace}/secrets`;
  const read = async (): Promise<Record<string, string> | undefined> => {
    try {
      return decode((await client.request<SecretObject>('GET', `${path}/${ref.name}`)).data);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  };
  let data = await read();
  if (data === undefined) {
    const fresh = generate();
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'tollgate-operator' },
        ...(ref.owner === undefined ? {} : { ownerReferences: [ref.owner] }),
      },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(fresh).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
    };
    try {
      await client.request('POST', path, body);
      data = fresh;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
      data = await read();
    }
  }
  const missing = required.filter((k) => (data?.[k] ?? '') === '');
  if (data === undefined || missing.length > 0) throw new Error(`Secret ${ref.namespace}/${ref.name} has no ${missing.join(', ')}`);
  return data;
}

/** Retries `fn` with backoff until it succeeds (the API server may not be reachable yet), or `signal` aborts. */
export async function withRetry<T>(fn: () => Promise<T>, what: string, logger: Logger, signal: AbortSignal): Promise<T> {
  let delay = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw err;
      logger.error({ err: (err as Error).message }, `${what}; retrying`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

export function ensureInstallationSecretWithRetry(
  client: KubeClient,
  ref: InstallationSecretRef,
  required: readonly string[],
  generate: () => Record<string, string>,
  logger: Logger,
  signal: AbortSignal,
): Promise<Record<string, string>> {
  return withRetry(() => ensureInstallationSecret(client, ref, required, generate), `cannot read or create the Secret ${ref.namespace}/${ref.name}`, logger, signal);
}
