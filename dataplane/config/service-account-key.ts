/** The fields of a Google service-account JSON key that minting access tokens needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

/** Reads a service-account JSON key; throws an Error saying what is missing. */
export function parseServiceAccountKey(json: string): ServiceAccountKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('the service-account key is not JSON');
  }
  const k = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (typeof k.client_email !== 'string' || typeof k.private_key !== 'string') {
    throw new Error('the service-account key has no client_email or private_key');
  }
  const key: ServiceAccountKey = { client_email: k.client_email, private_key: k.private_key };
  if (typeof k.private_key_id === 'string') key.private_key_id = k.private_key_id;
  if (typeof k.token_uri === 'string') key.token_uri = k.token_uri;
  return key;
}

/** What is wrong with a service-account key, if anything (the snapshot schema refuses such a key). */
export function serviceAccountKeyProblem(json: string): string | undefined {
  try {
    parseServiceAccountKey(json);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
