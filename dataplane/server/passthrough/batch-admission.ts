import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { RouteConfig } from '../../config/snapshot.js';
import type { Caller } from '../../core/caller.js';
import { errors } from '../../core/gateway-error.js';
import type { Admission, Admitter } from '../../governance/types.js';
import type { BilledUnits } from '../../metering/cost.js';
import type { RuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { readBatchInput } from './batch-input.js';
import { BatchLines, type BatchWorstCase } from './batch-lines.js';
import { admitPassThrough, type ForwardTarget } from './passthrough-route.js';

/** Whether a pass-through request creates a batch: its input file is read and checked first. */
export function createsBatch(method: string, path: string): boolean {
  return method === 'POST' && path === '/v1/batches';
}

/**
 * The worst case of the batch a `POST /v1/batches` body asks for, read from its input file before
 * the batch is created: 400 when the batch's endpoint or one of its requests is not the route's
 * (batch-lines.ts), 413 when the file or a line is larger than the gateway reads (batch-input.ts).
 */
export async function batchWorstCase(
  json: unknown,
  route: RouteConfig,
  targets: readonly ForwardTarget[],
  limits: { maxFileBytes: number; maxLineBytes: number; maxJsonElements: number; deadline: number },
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<BatchWorstCase> {
  if (!isObject(json)) throw errors.badRequest('a batch is created with a JSON body (input_file_id, endpoint, completion_window)');
  const { input_file_id: fileId, endpoint } = json;
  if (typeof fileId !== 'string' || fileId === '') throw errors.badRequest('input_file_id is required', 'input_file_id');
  if (typeof endpoint !== 'string' || !BatchLines.serves(route, endpoint)) {
    throw errors.badRequest(`endpoint ${JSON.stringify(endpoint)} is not one route ${route.id} serves in a batch (/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses; /v1/moderations when it enables moderations)`, 'endpoint');
  }
  const lines = new BatchLines(route, targets, fileId, endpoint, limits.maxJsonElements);
  await readBatchInput(targets, fileId, lines, limits, agents);
  return lines.result();
}

const ONE_REQUEST: BilledUnits = { requests: 1, images: 0, audioSeconds: 0, characters: 0 };

/**
 * Admits the creation of a batch: the route's rate limits count it as one request (its tokens run
 * later, in the Provider's batch queue, not through the route: they are not counted per minute),
 * and its Budgets hold its worst case (tokens, and USD at the batch price plus the per-request
 * price) until it is settled with what is charged. The Budgets see the batch as one request on a
 * route whose only price is that worst case: their admitter prices a request by its route's targets.
 */
export async function admitBatch(
  deps: { rateLimiter?: Admitter; admitters?: readonly Admitter[] },
  runtime: RuntimeSnapshot,
  caller: Caller,
  route: RouteConfig,
  batch: BatchWorstCase,
): Promise<Admission> {
  const rate = await admitPassThrough({ ...(deps.rateLimiter === undefined ? {} : { rateLimiter: deps.rateLimiter }) }, runtime, caller, route, false, ONE_REQUEST);
  const perRequest = Math.max(0, ...route.targets.map((t) => t.pricing.perRequestUsd ?? 0));
  const [first] = route.targets;
  const priced: RouteConfig = first === undefined ? route : { ...route, targets: [{ ...first, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perRequestUsd: batch.costUsd + perRequest } }] };
  let held: Admission;
  try {
    held = await admitPassThrough({ ...(deps.admitters === undefined ? {} : { admitters: deps.admitters }) }, runtime, caller, priced, false, ONE_REQUEST, {
      promptTokens: batch.usage.inputTokens,
      maxOutputTokens: batch.usage.outputTokens,
    });
  } catch (err) {
    rate.settle({ usage: undefined, costUsd: 0 });
    throw err;
  }
  return {
    headers: { ...rate.headers, ...held.headers },
    settle: (result) => {
      // The request was counted at admission; the batch's tokens are not the route's per minute.
      rate.settle({ usage: undefined, costUsd: 0 });
      held.settle(result);
    },
    charge: (part) => held.charge(part),
  };
}
