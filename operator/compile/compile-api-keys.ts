import type { ApiKeyConfig } from '../../dataplane/config/snapshot.js';
import { apiKeyDigest } from '../../dataplane/config/api-key-digest.js';
import { secret } from '../../dataplane/config/secret-value.js';
import type { SecretInput } from './types.js';

/** Secrets with this label (value "true") hold an API key for external callers under data key `key`. */
export const API_KEY_LABEL = 'tollgate.dev/api-key';
export const API_KEY_DATA_KEY = 'key';

/**
 * API keys by keyed hash: the snapshot never carries a client's key. Without the installation's hash
 * key no API key is compiled (callers always pass one: the operator's Secret, dev's local file).
 */
export function compileApiKeys(secrets: SecretInput[], hashKey: string | undefined): ApiKeyConfig[] {
  if (hashKey === undefined) return [];
  return secrets
    .filter((s) => s.labels?.[API_KEY_LABEL] === 'true' && (s.data[API_KEY_DATA_KEY] ?? '').trim() !== '')
    .map((s) => ({
      hmacSha256: secret(apiKeyDigest((s.data[API_KEY_DATA_KEY] ?? '').trim(), hashKey)),
      namespace: s.namespace,
      name: s.name,
      labels: Object.fromEntries(Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))),
    }))
    .sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}
