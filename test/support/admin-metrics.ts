/** A test gateway's admin port, as startTestGateway({ admin: true }) gives it. */
export interface AdminPort {
  adminUrl?: string | undefined;
  adminToken?: string | undefined;
}

/** The admin port's /metrics text. */
export async function scrapeMetrics(gateway: AdminPort): Promise<string> {
  const res = await fetch(`${gateway.adminUrl ?? ''}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken ?? ''}` } });
  return res.text();
}

/** The value of the first series of `name` whose labels include every one of `labels` (undefined: none). */
export async function metricValue(gateway: AdminPort, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = (await scrapeMetrics(gateway)).split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
