import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { RouteConfig } from '../../config/snapshot.js';
import { errors } from '../../core/gateway-error.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { type InputFile, readInputFile } from './input-file.js';
import { BatchLines, type BatchWorstCase } from './batch-lines.js';
import type { ForwardTarget } from './passthrough-route.js';

/** Whether a pass-through request creates a batch: its input file is read and checked first. */
export function createsBatch(method: string, path: string): boolean {
  return method === 'POST' && path === '/v1/batches';
}

/**
 * The worst case of the batch a `POST /v1/batches` body asks for, read from its input file before
 * the batch is created: 400 when the batch's endpoint or one of its requests is not the route's
 * (batch-lines.ts), 413 when the file or a line is larger than the gateway reads (input-file.ts).
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
  await readInputFile(targets, batchInputFile(fileId), lines, limits, agents);
  return lines.result();
}

/** A batch's input file, as its refusals name it. */
export const batchInputFile = (id: string): InputFile => ({ id, param: 'input_file_id', title: "the batch's input file", code: 'batch_input' });
