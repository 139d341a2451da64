import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares a presented bearer token with the expected one in constant time. */
export function tokenMatches(header: string | undefined, expected: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const a = createHash('sha256').update(header.slice(7)).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether a scrape of /metrics may read: the metrics token (read-only: Prometheus holds it) or the
 * admin token. A scraper given the admin token could pull and push snapshots, and with them the
 * Providers' credentials.
 */
export function metricsTokenMatches(header: string | undefined, metricsToken: string, adminToken: string): boolean {
  return tokenMatches(header, metricsToken) || tokenMatches(header, adminToken);
}
