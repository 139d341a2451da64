import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Compares a presented bearer token with the expected one, or each of several (the admin token and,
 * during a rotation, the previous one), in constant time: every one is compared, so the time does
 * not tell which matched.
 */
export function tokenMatches(header: string | undefined, expected: string | readonly string[]): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const a = digest(header.slice(7));
  let matched = false;
  for (const token of typeof expected === 'string' ? [expected] : expected) matched = timingSafeEqual(a, digest(token)) || matched;
  return matched;
}

/**
 * Whether a scrape of /metrics may read: the metrics token (read-only: Prometheus holds it) or the
 * admin token. A scraper given the admin token could pull and push snapshots, and with them the
 * Providers' credentials.
 */
export function metricsTokenMatches(header: string | undefined, metricsToken: string, adminToken: string | readonly string[]): boolean {
  return tokenMatches(header, metricsToken) || tokenMatches(header, adminToken);
}
