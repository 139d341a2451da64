/** Who is calling, as far as the gateway could verify. */
export interface Caller {
  kind: 'serviceaccount' | 'apikey' | 'anonymous';
  /** ServiceAccount namespace, or the namespace of the API key's Secret. */
  namespace?: string;
  /** ServiceAccount name, or the API key Secret's name. */
  name?: string;
  /** Labels of the API key Secret. */
  labels?: Record<string, string>;
  /**
   * Set when a credential was presented but is not valid. Such a caller is anonymous: routes open to
   * anonymous callers serve it (SDKs insist on sending some key), every other route answers 401 with this.
   */
  invalidCredential?: string;
  /** Stable identity for limit, budget and cache keys: "sa:<ns>/<name>", "key:<ns>/<name>" or "anonymous". */
  id: string;
}

export const ANONYMOUS: Caller = { kind: 'anonymous', id: 'anonymous' };
