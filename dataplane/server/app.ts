import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { anthropicErrorMiddleware } from '../inbound/anthropic/messages-errors.js';
import { messagesHandler } from '../inbound/anthropic/messages-handler.js';
import { responsesHandler } from '../inbound/responses/responses-handler.js';
import { passThroughHandlers } from './passthrough/passthrough-handler.js';
import { PASS_THROUGH_PATTERNS } from './passthrough/passthrough-paths.js';
import { authenticateFirst } from './authenticate-first.js';
import type { ByteBudget } from './body/byte-budget.js';
import { jsonBody, type RequestBodyLimits } from './body/json-body.js';
import { errorMiddleware, notFoundHandler } from './error-middleware.js';
import { getModelHandler, listModelsHandler } from './models-handler.js';
import type { GatewayObserver } from '../telemetry/gateway-observer.js';
import { type ProxyDeps, proxyHandler } from './proxy-handler.js';

export interface AppDeps extends ProxyDeps {
  logger: Logger;
  bodyLimits: RequestBodyLimits;
  /** Bytes of request bodies the process holds, shared by every request (bodyLimits.maxInflightBodyBytes). */
  bodyBudget: ByteBudget;
  observer: GatewayObserver;
}

/** The public OpenAI-compatible API plus health endpoints. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  // Access log, metrics and the SERVER span of every request (dataplane/telemetry).
  app.use(deps.observer.middleware);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const version = deps.store.current?.snapshot.version;
    const ready = version !== undefined && !deps.isDraining();
    res.status(ready ? 200 : 503).json({ ready, snapshot: version ?? null, draining: deps.isDraining() });
  });

  // Who is calling is settled from the headers first; only then is the body read (bounded) and parsed.
  const json = [authenticateFirst(deps), jsonBody(deps.bodyLimits, deps.bodyBudget)];
  app.post('/v1/chat/completions', ...json, proxyHandler('chat', deps));
  app.post('/v1/completions', ...json, proxyHandler('completions', deps));
  app.post('/v1/embeddings', ...json, proxyHandler('embeddings', deps));
  // The Anthropic Messages API, routed like chat completions; its errors are rendered the Anthropic way.
  app.post('/v1/messages', ...json, messagesHandler(deps), anthropicErrorMiddleware(deps.logger));
  // The OpenAI Responses API, translated to and from the canonical request for every provider.
  app.post('/v1/responses', ...json, responsesHandler(deps));
  // Endpoints forwarded untranslated to the route's first target, where the route enables them.
  app.all([...PASS_THROUGH_PATTERNS], authenticateFirst(deps), ...passThroughHandlers(deps));
  app.get('/v1/models', listModelsHandler(deps));
  app.get('/v1/models/*model', getModelHandler(deps));

  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.logger));
  return app;
}
