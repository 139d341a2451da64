import type { CompiledEgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

/**
 * Why a URL a tenant wrote can never be reached under the platform's egress allowlist, or
 * undefined when it may be (a listed name or address, or a name that may resolve into a listed
 * network: only the connection can tell, and it checks again).
 */
export function egressProblem(allowlist: CompiledEgressAllowlist | undefined, url: string, field: string): string | undefined {
  if (allowlist === undefined) return undefined;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    // Not a URL: the field's own validation says so.
    return undefined;
  }
  if (allowlist.mayConnect(host)) return undefined;
  return `${field}: ${host} is not in the platform's egress allowlist (${allowlist.describe()}); ask the platform team to add it`;
}
