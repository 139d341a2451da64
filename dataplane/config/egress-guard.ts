import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { type CompiledEgressAllowlist, type EgressAllowlist, unbracketed } from './egress-allowlist.js';

/**
 * Addresses Tollgate never connects to for a URL that a tenant wrote (a Provider's url, a Vertex
 * key's token_uri, a guardrail webhook, a DataPolicy destination): the cloud instance-metadata
 * services, which answer any pod on the node with the node's own credentials (169.254.169.254 on
 * AWS, GCP, Azure and Oracle, AWS's fd00:ec2::254, Alibaba's 100.100.100.200), and the rest of
 * link-local (169.254.0.0/16, fe80::/10), where nothing an LLM gateway calls lives. Whoever may
 * write a Provider in a namespace could otherwise read them through the gateway. Checked where a
 * connection is made, on every address the name resolves to, so a name that resolves there (or
 * changes to) is refused as well as the literal address.
 */
const BLOCKED = new BlockList();
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4');
BLOCKED.addAddress('100.100.100.200', 'ipv4');
BLOCKED.addSubnet('fe80::', 10, 'ipv6');
BLOCKED.addAddress('fd00:ec2::254', 'ipv6');

/** The address (an IP literal, IPv6 in brackets or not) is one Tollgate never connects to. */
export function blockedAddress(address: string): boolean {
  const bare = unbracketed(address);
  const family = isIP(bare);
  // IPv4-mapped IPv6 addresses (::ffff:169.254.169.254) are checked against the IPv4 rules too.
  return family !== 0 && BLOCKED.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The platform's allowlist (egress-allowlist.ts), process-wide: it is set once at start from the
 * process's flags, and every connection a tenant's URL leads to goes through this module.
 */
let allowlist: CompiledEgressAllowlist | undefined;

/** Sets (or, with undefined, lifts) the platform's egress allowlist for this process. */
export function setEgressAllowlist(list: CompiledEgressAllowlist | undefined): void {
  allowlist = list;
}

/** The process's allowlist as a compile input takes it (nothing when there is none). */
export function egressCompileInput(): { egressAllowlist?: EgressAllowlist } {
  return allowlist === undefined ? {} : { egressAllowlist: allowlist.source };
}

/**
 * Why a connection was not made: a `code` as the network's own errors have, and the host named.
 * EGRESS_REFUSED: link-local or metadata, never reachable; EGRESS_NOT_ALLOWED: outside the
 * platform's allowlist.
 */
export class EgressRefused extends Error {
  constructor(host: string, address: string, readonly code: 'EGRESS_REFUSED' | 'EGRESS_NOT_ALLOWED' = 'EGRESS_REFUSED') {
    const why = code === 'EGRESS_REFUSED' ? 'a link-local or cloud instance-metadata address' : "not in the platform's egress allowlist (--egress-allow-hosts, --egress-allow-cidrs)";
    super(`refused to connect to ${host}${host === address ? '' : ` (${address})`}: ${why}`);
    this.name = 'EgressRefused';
  }
}

/** The refusal for a host given as an IP literal (which is not looked up, so guardedLookup never sees it). */
export function refusedLiteral(host: string): EgressRefused | undefined {
  if (blockedAddress(host)) return new EgressRefused(host, host);
  if (allowlist !== undefined && isIP(unbracketed(host)) !== 0 && !allowlist.allowsAddress(host)) return new EgressRefused(host, host, 'EGRESS_NOT_ALLOWED');
  return undefined;
}

/** The refusal for a name and the addresses it resolved to, if any. */
function refusedName(hostname: string, addresses: readonly LookupAddress[]): EgressRefused | undefined {
  const blocked = addresses.find((a) => blockedAddress(a.address));
  if (blocked !== undefined) return new EgressRefused(hostname, blocked.address);
  if (allowlist === undefined || allowlist.allowsName(hostname)) return undefined;
  const outside = addresses.find((a) => !allowlist?.allowsAddress(a.address));
  return outside === undefined ? undefined : new EgressRefused(hostname, outside.address, 'EGRESS_NOT_ALLOWED');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup with `all: true`, as the guard calls it (tests give their own). */
export type ResolveAll = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;
export type GuardedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A lookup for net.connect and tls.connect (their `lookup` option, and so undici's and node:http's):
 * resolves through `resolve`, then refuses the connection when any address of the name is blocked,
 * or when the platform's allowlist lists neither the name nor every address, before a packet is sent.
 */
export function guardedLookupVia(resolve: ResolveAll): GuardedLookup {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) return callback(err, options.all === true ? [] : '');
      const refused = refusedName(hostname, addresses);
      if (refused !== undefined) return callback(refused, options.all === true ? [] : '');
      if (options.all === true) return callback(null, addresses);
      const first = addresses[0];
      if (first === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  };
}

/** The guard over the system's resolver (dns.lookup). */
export const guardedLookup: GuardedLookup = guardedLookupVia((hostname, options, callback) => dnsLookup(hostname, options, callback));
