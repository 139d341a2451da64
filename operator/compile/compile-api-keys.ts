import { createHash } from 'node:crypto';
import type { ApiKeyConfig } from '../../dataplane/config/snapshot.js';
import type { SecretInput } from './types.js';

/** Secrets with this label (value "true") hold an API key for external callers under data key `key`. */
export const API_KEY_LABEL = 'tollgate.dev/api-key';
export const API_KEY_DATA_KEY = 'key';

/** API keys by hash: the snapshot never carries a client's key. */
export function compileApiKeys(secrets: SecretInput[]): ApiKeyConfig[] {
  return secrets
    .filter((s) => s.labels?.[API_KEY_LABEL] === 'true' && (s.data[API_KEY_DATA_KEY] ?? '').trim() !== '')
    .map((s) => ({
      sha256: createHash('sha256').update((s.data[API_KEY_DATA_KEY] ?? '').trim()).digest('hex'),
      namespace: s.namespace,
      name: s.name,
      labels: Object.fromEntries(Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))),
    }))
    .sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}
