/** What a transport error code means, for the person reading the client's error (never the raw message). */
const CONNECTION_FAILURES: Readonly<Record<string, string>> = {
  UND_ERR_SOCKET: 'closed the connection before answering',
  ECONNRESET: 'closed the connection before answering',
  EPIPE: 'closed the connection before answering',
  UND_ERR_CLOSED: 'closed the connection before answering',
  ECONNREFUSED: 'refused the connection (is anything listening at its base URL?)',
  ENOTFOUND: 'could not be found (its host name does not resolve)',
  EAI_AGAIN: 'could not be found (its host name did not resolve; DNS may be down)',
  EHOSTUNREACH: 'is unreachable (no route to its host)',
  ENETUNREACH: 'is unreachable (no route to its network)',
  ETIMEDOUT: 'did not accept the connection in time',
  UND_ERR_CONNECT_TIMEOUT: 'did not accept the connection in time',
  EPROTO: 'did not speak TLS as the gateway does (is its base URL https for a plain http server?)',
  EGRESS_REFUSED: 'was not called: its address is link-local or a cloud instance-metadata service, which the gateway never connects to',
  EGRESS_NOT_ALLOWED: "was not called: neither its host nor its address is in the platform's egress allowlist (--egress-allow-hosts, --egress-allow-cidrs)",
};

/** TLS certificate failures by code: the sentence, without what the certificate names. */
const TLS_FAILURES: Readonly<Record<string, string>> = {
  ERR_TLS_CERT_ALTNAME_INVALID: "presented a TLS certificate for other names than its base URL's host",
  CERT_HAS_EXPIRED: 'presented an expired TLS certificate',
  CERT_NOT_YET_VALID: 'presented a TLS certificate that is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'presented a self-signed TLS certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'presented a TLS certificate chain ending in a CA the gateway does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'presented a TLS certificate that no CA the gateway trusts signed',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'presented a TLS certificate that no CA the gateway trusts signed',
};

/** A failure of an upstream in the gateway's own words (what it answered, how long it was silent): shown as it is. */
export class GatewayWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayWordsError';
  }
}

/** An error code as node and undici write them; anything else is not shown. */
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/** The failure's code, on the error or (fetch's `TypeError: fetch failed`) on a cause. */
export function connectionErrorCode(err: Error): string | undefined {
  let depth = 0;
  for (let e: unknown = err; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string') return CODE.test(code) ? code : undefined;
  }
  return undefined;
}

/**
 * A transport error (a connection, TLS or egress failure) as a sentence for people, "the upstream
 * …", naming neither the upstream's address nor what its certificate names: it is the client's
 * error on every path (chat, pass-through, Realtime), and the caller may be another team's. Node's
 * own messages name both (`connect ECONNREFUSED 10.0.4.7:8000`, `Host: vllm.corp. is not in the
 * cert's altnames: DNS:…`); the Provider's id, which the error names beside it, says which
 * upstream, and the code says what failed.
 */
export function connectionFailureText(err: unknown): string {
  if (err instanceof GatewayWordsError) return err.message;
  const code = err instanceof Error ? connectionErrorCode(err) : undefined;
  if (code === undefined) return `could not reach the upstream${err instanceof Error ? ` (${err.name})` : ''}`;
  const known = CONNECTION_FAILURES[code] ?? TLS_FAILURES[code];
  if (known !== undefined) return `the upstream ${known}`;
  if (/CERT|SSL|TLS/.test(code)) return `the upstream presented a TLS certificate that was not accepted (${code})`;
  return `could not reach the upstream (${code})`;
}
