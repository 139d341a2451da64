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

/** GET /v1/models: the public model names (routes) the caller may use, in OpenAI list form (all of them: OpenAI's list has no pages). */
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

/**
 * Anthropic's ModelInfo for a public model name. The gateway knows no release date, line or
 * limits of a route: `created_at` is the epoch (as Anthropic's own list gives for an unknown
 * date) and the rest is null, which the API allows.
 */
const toAnthropicModel = (m: { id: string; created: number }) => ({
  type: 'model',
  id: m.id,
  display_name: m.id,
  created_at: new Date(m.created * 1000).toISOString(),
  capabilities: null,
  deprecated_at: null,
  lifecycle: 'active',
  line: null,
  max_input_tokens: null,
  max_tokens: null,
  retires_at: null,
});

const DEFAULT_PAGE = 20;
const MAX_PAGE = 1000;

/** Anthropic's page size: `limit`, 1 to 1000, 20 when absent. */
function pageLimit(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null) return DEFAULT_PAGE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw errors.badRequest(`limit: must be an integer from 1 to ${MAX_PAGE}`, 'limit');
  return limit;
}

/**
 * GET /v1/models for Anthropic clients (the Anthropic SDK's `models.list()`: it sends
 * anthropic-version): one page of ModelInfo after `after_id` or before `before_id`, with
 * `has_more`, `first_id` and `last_id`, which the SDK pages by. A cursor that is not a listed model
 * gives an empty page.
 */
export async function listAnthropicModels(deps: ModelsDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '';
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const limit = pageLimit(query);
  const models = await visibleModels(deps, req, current(deps));
  const before = query.get('before_id');
  const after = query.get('after_id');
  let page: { id: string; created: number }[];
  let more: boolean;
  if (before !== null) {
    const end = models.findIndex((m) => m.id === before);
    const start = Math.max(0, end - limit);
    page = end < 0 ? [] : models.slice(start, end);
    more = end > 0 && start > 0;
  } else {
    const start = after === null ? 0 : models.findIndex((m) => m.id === after) + 1;
    page = after !== null && start === 0 ? [] : models.slice(start, start + limit);
    more = page.length > 0 && start + limit < models.length;
  }
  sendJson(res, 200, {}, { data: page.map(toAnthropicModel), has_more: more, first_id: page[0]?.id ?? null, last_id: page[page.length - 1]?.id ?? null });
}

/** GET /v1/models/{id} for Anthropic clients (`models.retrieve()`): one ModelInfo. */
export async function getAnthropicModel(deps: ModelsDeps, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const model = (await visibleModels(deps, req, current(deps))).find((m) => m.id === id);
  if (model === undefined) throw errors.modelNotFound(id);
  sendJson(res, 200, {}, toAnthropicModel(model));
}
