import type { Request, RequestHandler } from 'express';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { mayCall } from '../governance/access.js';
import { errors } from '../core/gateway-error.js';
import { identify, type ProxyDeps } from './proxy-handler.js';

const toModel = (m: { id: string; created: number }) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'tollgate' });

/** The public model names this caller may use. */
async function visibleModels(deps: ProxyDeps, req: Request, runtime: RuntimeSnapshot): Promise<{ id: string; created: number }[]> {
  if (deps.auth === undefined) return runtime.models;
  const caller = await identify(deps, req, runtime.apiKeys);
  return runtime.models.filter((m) => (runtime.routesByModel.get(m.id) ?? []).some((r) => mayCall(caller, r.config, runtime.snapshot.namespaces)));
}

/** GET /v1/models: the public model names (routes) the caller may use, in OpenAI list form. */
export function listModelsHandler(deps: ProxyDeps): RequestHandler {
  return async (req, res) => {
    const runtime = deps.store.current;
    if (runtime === undefined) throw errors.notReady();
    res.json({ object: 'list', data: (await visibleModels(deps, req, runtime)).map(toModel) });
  };
}

export function getModelHandler(deps: ProxyDeps): RequestHandler {
  return async (req, res) => {
    const runtime = deps.store.current;
    if (runtime === undefined) throw errors.notReady();
    const raw: unknown = req.params.model;
    // Model names may contain slashes (meta-llama/Llama-3.1-8B): the route captures every segment.
    const id = Array.isArray(raw) ? raw.join('/') : String(raw);
    const model = (await visibleModels(deps, req, runtime)).find((m) => m.id === id);
    if (model === undefined) throw errors.modelNotFound(id);
    res.json(toModel(model));
  };
}
