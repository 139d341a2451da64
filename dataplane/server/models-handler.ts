import type { RequestHandler } from 'express';
import type { SnapshotStore } from '../config/snapshot-store.js';
import { errors } from './gateway-error.js';

const toModel = (m: { id: string; created: number }) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'tollgate' });

/** GET /v1/models: the public model names (routes), in OpenAI list form. */
export function listModelsHandler(store: SnapshotStore): RequestHandler {
  return (_req, res) => {
    const runtime = store.current;
    if (runtime === undefined) throw errors.notReady();
    res.json({ object: 'list', data: runtime.models.map(toModel) });
  };
}

export function getModelHandler(store: SnapshotStore): RequestHandler {
  return (req, res) => {
    const runtime = store.current;
    if (runtime === undefined) throw errors.notReady();
    const raw: unknown = req.params.model;
    // Model names may contain slashes (meta-llama/Llama-3.1-8B): the route captures every segment.
    const id = Array.isArray(raw) ? raw.join('/') : String(raw);
    const model = runtime.models.find((m) => m.id === id);
    if (model === undefined) throw errors.modelNotFound(id);
    res.json(toModel(model));
  };
}
