import { BlockList, isIP } from 'node:net';

/**
 * The platform's egress allowlist: the only hosts and networks a URL that a tenant wrote (a
 * Provider's url or Service, a guardrail webhook, a DataPolicy destination, a Vertex key's
 * token_uri) may reach. Set by whoever installs Tollgate (`--egress-allow-hosts`,
 * `--egress-allow-cidrs`; the chart's `egress` values), never by a tenant. Without one, every address
 * but link-local and cloud metadata is reachable (egress-guard.ts), as before.
 *
 * A connection is allowed when its host name is listed, or when its address (an IP literal, or
 * every address the name resolves to) is in a listed network. A name is trusted for what it
 * resolves to: that is how a hosted API's changing addresses stay reachable.
 */
export interface EgressAllowlist {
  /** Exact names (`llm.example.com`) or `*.` suffixes (`*.example.net`: any name below it, not the name itself). */
  hosts: readonly string[];
  /** Networks in CIDR notation (`10.244.0.0/16`, `fd00::/8`); a bare address is one host. */
  cidrs: readonly string[];
}

const HOST_PATTERN = /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Entries are few and set at install; this keeps a mistyped value file from building a huge list. */
const MAX_ENTRIES = 1024;

/** An IPv6 literal without its URL brackets (`[fe80::1]` → `fe80::1`); anything else as it is. */
export function unbracketed(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** A name as connections see it: lower case, no trailing dot, no brackets. */
function canonicalHost(host: string): string {
  return unbracketed(host).toLowerCase().replace(/\.$/, '');
}

export class CompiledEgressAllowlist {
  private readonly exact = new Set<string>();
  /** `.example.com` for `*.example.com`. */
  private readonly suffixes: string[] = [];
  private readonly networks = new BlockList();

  constructor(readonly source: EgressAllowlist) {
    for (const host of source.hosts) {
      if (host.startsWith('*.')) this.suffixes.push(host.slice(1));
      else this.exact.add(host);
    }
    for (const cidr of source.cidrs) {
      const [address = '', bits] = cidr.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.networks.addAddress(address, family);
      else this.networks.addSubnet(address, Number(bits), family);
    }
  }

  /** The host name (not an IP literal) is listed. */
  allowsName(host: string): boolean {
    const name = canonicalHost(host);
    if (isIP(name) !== 0) return false;
    if (this.exact.has(name)) return true;
    return this.suffixes.some((suffix) => name.endsWith(suffix) && name.length > suffix.length);
  }

  /** The IP address lies in a listed network (IPv4-mapped IPv6 addresses are checked as IPv4 too). */
  allowsAddress(address: string): boolean {
    const bare = canonicalHost(address);
    const family = isIP(bare);
    return family !== 0 && this.networks.check(bare, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * Whether a URL's host can ever connect: a listed name, a listed address, or an unlisted name
   * that may resolve into a listed network (only the connection can tell).
   */
  mayConnect(host: string): boolean {
    const name = canonicalHost(host);
    if (isIP(name) !== 0) return this.allowsAddress(name);
    return this.allowsName(name) || this.source.cidrs.length > 0;
  }

  /** For messages: what is allowed, at most a few entries of each. */
  describe(): string {
    const few = (list: readonly string[]): string => (list.length === 0 ? 'none' : list.length <= 8 ? list.join(', ') : `${list.slice(0, 8).join(', ')} and ${list.length - 8} more`);
    return `hosts: ${few(this.source.hosts)}; networks: ${few(this.source.cidrs)}`;
  }
}

export type EgressAllowlistParse = { ok: true; allowlist: CompiledEgressAllowlist | undefined } | { ok: false; error: string };

/** Comma- or whitespace-separated entries, as a flag or an environment variable gives them. */
export function splitEntries(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((entry) => entry !== '');
}

function cidrError(cidr: string): string | undefined {
  const [address = '', bits, extra] = cidr.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return `${JSON.stringify(cidr)} is not an IP address or a network in CIDR notation (10.244.0.0/16, fd00::/8)`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || n > (family === 4 ? 32 : 128)) return `${JSON.stringify(cidr)}: the prefix length must be 0 to ${family === 4 ? 32 : 128}`;
  return undefined;
}

/**
 * The allowlist from its entries; no entries at all is no allowlist (everything but link-local and
 * metadata stays reachable). An entry that is not a host name, a `*.` suffix or a network refuses
 * the whole list: a typo must not quietly open or close egress.
 */
export function parseEgressAllowlist(hosts: readonly string[], cidrs: readonly string[]): EgressAllowlistParse {
  if (hosts.length + cidrs.length === 0) return { ok: true, allowlist: undefined };
  if (hosts.length + cidrs.length > MAX_ENTRIES) return { ok: false, error: `the egress allowlist has ${hosts.length + cidrs.length} entries; at most ${MAX_ENTRIES}` };
  const names: string[] = [];
  for (const host of hosts) {
    const name = canonicalHost(host);
    if (isIP(name) !== 0) return { ok: false, error: `${JSON.stringify(host)} is an IP address: list it in the networks (--egress-allow-cidrs)` };
    if (!HOST_PATTERN.test(name)) return { ok: false, error: `${JSON.stringify(host)} is not a host name or a "*." suffix (llm.example.com, *.example.net)` };
    names.push(name);
  }
  for (const cidr of cidrs) {
    const error = cidrError(cidr);
    if (error !== undefined) return { ok: false, error };
  }
  return { ok: true, allowlist: new CompiledEgressAllowlist({ hosts: [...new Set(names)].sort(), cidrs: [...new Set(cidrs)].sort() }) };
}
