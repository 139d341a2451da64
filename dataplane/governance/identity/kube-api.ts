import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { z } from 'zod';
import { kubeconfigError } from '../../config/kubeconfig-error.js';

/** How the data plane reaches the API server for TokenReview (and nothing else). */
export interface KubeApiConfig {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** Re-read on every call: projected tokens rotate. */
  tokenFile?: string;
  token?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's own ServiceAccount, as every in-cluster client finds it. */
export function inClusterKubeApi(env: NodeJS.ProcessEnv): KubeApiConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (host === undefined) return undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${SA_DIR}/ca.crt`, 'utf8'),
    tokenFile: `${SA_DIR}/token`,
  };
}

const KubeconfigSchema = z.looseObject({
  'current-context': z.string().optional(),
  contexts: z.array(z.looseObject({ name: z.string(), context: z.looseObject({ cluster: z.string(), user: z.string() }) })),
  clusters: z.array(z.looseObject({ name: z.string(), cluster: z.looseObject({ server: z.string(), 'certificate-authority-data': z.string().optional() }) })),
  users: z.array(
    z.looseObject({
      name: z.string(),
      user: z.looseObject({
        token: z.string().optional(),
        'client-certificate-data': z.string().optional(),
        'client-key-data': z.string().optional(),
      }),
    }),
  ),
});

const b64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/** A kubeconfig with embedded data (token or client certificate), as tests and laptops have. */
export function kubeApiFromKubeconfig(path: string): KubeApiConfig {
  let document: unknown;
  try {
    document = yaml.load(readFileSync(path, 'utf8'));
  } catch (err) {
    throw kubeconfigError(path, err);
  }
  const parsed = KubeconfigSchema.parse(document);
  const context = parsed.contexts.find((c) => c.name === parsed['current-context']) ?? parsed.contexts[0];
  const cluster = parsed.clusters.find((c) => c.name === context?.context.cluster)?.cluster;
  const user = parsed.users.find((u) => u.name === context?.context.user)?.user;
  if (cluster === undefined || user === undefined) throw new Error(`${path}: no usable context`);
  const config: KubeApiConfig = { server: cluster.server };
  const ca = b64(cluster['certificate-authority-data']);
  const cert = b64(user['client-certificate-data']);
  const key = b64(user['client-key-data']);
  if (ca !== undefined) config.ca = ca;
  if (cert !== undefined) config.cert = cert;
  if (key !== undefined) config.key = key;
  if (user.token !== undefined) config.token = user.token;
  return config;
}
