import type { Express } from 'express';

/** What the admin port needs of the metrics: one scrape in the Prometheus text format. */
export interface MetricsSource {
  scrape(): Promise<{ contentType: string; text: string }>;
}

/** Mounts GET /metrics on the admin app. */
export function mountMetrics(app: Express, source: MetricsSource): void {
  app.get('/metrics', (_req, res, next) => {
    source.scrape().then(({ contentType, text }) => {
      res.set('content-type', contentType).send(text);
    }, next);
  });
}
