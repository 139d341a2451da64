import type { ApiKeyConfig } from '../../dataplane/config/snapshot.js';
import { apiKeyDigest, apiKeyHashKeyObject } from '../../dataplane/config/api-key-digest.js';
import { runToEnd, type Steps } from '../../dataplane/config/sliced.js';
import { secret } from '../../dataplane/config/secret-value.js';
import type { SecretInput } from './types.js';

/** Secrets with this label (value "true") hold an API key for external callers under data key `key`. */
export const API_KEY_LABEL = 'tollgate.dev/api-key';
export const API_KEY_DATA_KEY = 'key';

/** The reason of the Warning Event on a Secret whose key another (older) Secret already holds. */
export const DUPLICATE_API_KEY = 'DuplicateApiKey';

/** An API key Secret left out of the snapshot, why, and the Event reason that says so. */
export interface RefusedApiKey {
  namespace: string;
  name: string;
  reason: string;
  message: string;
}

/**
 * A Secret that keeps its key while later Secrets hold copies of it: its owner is told (a Warning
 * Event on it) that someone else has the key. `message` names the copies in its own namespace only;
 * `copies` names them all, for the operator's log, which only the platform team reads.
 */
export interface CopiedApiKey extends RefusedApiKey {
  copies: string[];
}

export interface CompiledApiKeys {
  keys: ApiKeyConfig[];
  refused: RefusedApiKey[];
  copied: CopiedApiKey[];
}

const id = (s: SecretInput): string => `${s.namespace}/${s.name}`;

/** Milliseconds since the epoch, or undefined when the Secret carries no (readable) creation time. */
function createdMs(s: SecretInput): number | undefined {
  if (s.createdAt === undefined) return undefined;
  const ms = Date.parse(s.createdAt);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Oldest first: a Secret whose age is unknown (manifests on disk) after every dated one; same age
 * (creation times have second resolution), or both unknown, by namespace/name.
 */
function holderOrder(a: SecretInput, b: SecretInput): number {
  const ta = createdMs(a);
  const tb = createdMs(b);
  if (ta !== tb) {
    if (ta === undefined) return 1;
    if (tb === undefined) return -1;
    return ta - tb;
  }
  return id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0;
}

/**
 * What the keeper's owner is told. A copy in another namespace is not named: that namespace and the
 * Secret's name are another tenant's (the name is even the copier's choice of text, shown in the
 * owner's Events), and the owner's remedy, a new key, is the same whoever holds the copy. A copy in
 * the keeper's own namespace is the same tenant's: named, so it can be found and fixed.
 */
function copiedMessage(keeper: SecretInput, copies: readonly SecretInput[]): string {
  const near = copies.filter((c) => c.namespace === keeper.namespace).map((c) => `Secret ${id(c)}`);
  const elsewhere = copies.some((c) => c.namespace !== keeper.namespace);
  const holders = [...near, ...(elsewhere ? ['a Secret in another namespace'] : [])];
  const who = holders.length === 1 ? `${holders[0]} holds` : `${holders.slice(0, -1).join(', ')} and ${holders.at(-1)} hold`;
  const advice = elsewhere
    ? 'Someone else has this key: rotate it (a new value in this Secret; the platform team can see which Secret holds the copy in the operator log).'
    : 'Give the copy a key of its own.';
  return `copied: ${who} the same key; this Secret keeps it (the oldest holder) and the copy is not served. ${advice}`;
}

/**
 * API keys by keyed hash: the snapshot never carries a client's key. Without the installation's hash
 * key no API key is compiled (callers always pass one: the operator's Secret, dev's local file).
 *
 * One key value held by several Secrets would identify its caller as whichever the data plane
 * indexed last: a tenant labelling a Secret with another tenant's key (a leaked key, a copied demo
 * key) took over that tenant's clients — their prompts served by its route and Provider, their spend
 * on its Budgets. The oldest holder keeps the key and every later copy is refused with a reason:
 * the original owner is protected from a late copier, which refusing every copy would not do (the
 * copier could then switch the owner's key off). Creation times are set by the API server, so a
 * copier cannot backdate its Secret.
 */
export function compileApiKeys(secrets: SecretInput[], hashKey: string | undefined): CompiledApiKeys {
  return runToEnd(compileApiKeysSteps(secrets, hashKey));
}

/** compileApiKeys, a Secret (a step) at a time: each API key is an HMAC (compile.ts runs in slices). */
export function* compileApiKeysSteps(secrets: SecretInput[], hashKey: string | undefined): Steps<CompiledApiKeys> {
  if (hashKey === undefined) return { keys: [], refused: [], copied: [] };
  const holders = new Map<string, SecretInput[]>();
  // Imported once: the same digests as the text key, without importing it again per Secret.
  const key = apiKeyHashKeyObject(hashKey);
  for (const s of secrets) {
    yield;
    const value = (s.data[API_KEY_DATA_KEY] ?? '').trim();
    if (s.labels?.[API_KEY_LABEL] !== 'true' || value === '') continue;
    const digest = apiKeyDigest(value, key);
    const list = holders.get(digest);
    if (list === undefined) holders.set(digest, [s]);
    else list.push(s);
  }
  const keys: ApiKeyConfig[] = [];
  const refused: RefusedApiKey[] = [];
  const copied: CopiedApiKey[] = [];
  for (const [digest, list] of holders) {
    const [keeper, ...copies] = [...list].sort(holderOrder);
    if (keeper === undefined) continue;
    keys.push({
      hmacSha256: secret(digest),
      namespace: keeper.namespace,
      name: keeper.name,
      labels: Object.fromEntries(Object.entries(keeper.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))),
    });
    for (const copy of copies) {
      refused.push({
        namespace: copy.namespace,
        name: copy.name,
        reason: DUPLICATE_API_KEY,
        message: `not served: Secret ${id(keeper)} holds the same key and keeps it (the oldest holder); a key identifies one caller. Use a key of your own.`,
      });
    }
    // Before, only the copy was told: the owner never learnt that its key had been copied.
    if (copies.length > 0) copied.push({ namespace: keeper.namespace, name: keeper.name, reason: DUPLICATE_API_KEY, message: copiedMessage(keeper, copies), copies: copies.map(id) });
  }
  const byId = (a: { namespace: string; name: string }, b: { namespace: string; name: string }): number =>
    `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1;
  return { keys: keys.sort(byId), refused: refused.sort(byId), copied: copied.sort(byId) };
}
