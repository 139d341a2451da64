import { Counter, type Registry } from 'prom-client';

/**
 * A counter whose values are counts kept elsewhere (a reporter's, a rate limiter's), read at each
 * scrape: one series per key of `counts`, under `label`. The counts only grow, so the series do too.
 */
export function registerCountsByLabel(registry: Registry, metric: { name: string; help: string; label: string }, counts: () => Readonly<Record<string, number>>): void {
  new Counter({
    name: metric.name,
    help: metric.help,
    labelNames: [metric.label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of Object.entries(counts())) this.inc({ [metric.label]: value }, n);
    },
  });
}
