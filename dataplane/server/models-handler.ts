import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { mayCall } from '../governance/access.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import { errors } from '../core/gateway-error.js';
import { refusedWithoutRoute } from '../pipeline/stages/identify.js';
import { headerOf } from './request-headers.js';
import { sendJson } from './send-json.js';

export interface ModelsDeps {
  store: SnapshotStore;
  auth?: Authenticator;
}

const toModel = (m: { id: string; created: number }) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'tollgate' });

/**
 * The public model names this caller may use. A caller that chat would refuse whatever the model (a
 * credential that did not verify, or none, and no route open to anonymous callers) gets chat's 401:
 * tools check a key with a model listing, and an empty 200 read as a valid key. With routes open to
 * anonymous callers it lists theirs, as chat serves them (SDKs insist on sending some key).
 */
async function visibleModels(deps: ModelsDeps, req: IncomingMessage, runtime: RuntimeSnapshot): Promise<{ id: string; created: number }[]> {
  if (deps.auth === undefined) return runtime.models;
  const caller = await deps.auth.authenticate((name) => headerOf(req, name), runtime.apiKeys);
  const refused = refusedWithoutRoute(caller, runtime.snapshot.routes);
  if (refused !== undefined) throw refused;
  return runtime.models.filter((m) => (runtime.routesByModel.get(m.id) ?? []).some((r) => mayCall(caller, r.config, runtime.snapshot.namespaces)));
}

function current(deps: ModelsDeps): RuntimeSnapshot {
  const runtime = deps.store.current;
  if (runtime === undefined) throw errors.notReady();
  return runtime;
}

/** GET /v1/models: the public model names (routes) the caller may use, in OpenAI list form. */
export async function listModels(deps: ModelsDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const models = await visibleModels(deps, req, current(deps));
  sendJson(res, 200, {}, { object: 'list', data: models.map(toModel) });
}

/** GET /v1/models/{id}; model names may contain slashes (meta-llama/Llama-3.1-8B). */
export async function getModel(deps: ModelsDeps, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const model = (await visibleModels(deps, req, current(deps))).find((m) => m.id === id);
  if (model === undefined) throw errors.modelNotFound(id);
  sendJson(res, 200, {}, toModel(model));
}
