import type { JsonObject, Operation, Usage } from '../../core/canonical.js';
import type { RouteConfig } from '../../config/snapshot.js';
import { GatewayError } from '../../core/gateway-error.js';
import { jsonTextShapeProblem } from '../../core/json-shape.js';
import { MAX_JSON_DEPTH } from '../body/json-body.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { outputCap } from '../../governance/admission.js';
import { dearestInputPrice, dearestOutputPrice, roundedUp } from '../../metering/cost.js';
import { estimatePromptTokens, type PromptParts, promptTokensOn } from '../../metering/token-estimate.js';
import { promptTokensOf } from './passthrough-usage.js';
import type { ForwardTarget } from './passthrough-route.js';
import type { LineSink } from './input-file.js';
import type { CreationWorstCase } from './worst-case-admission.js';

/** The most requests OpenAI takes in one batch: a longer input file is refused before it goes upstream. */
export const MAX_BATCH_REQUESTS = 50_000;

/** What OpenAI and Azure OpenAI (global batch) bill a batch's tokens at, of the standard price: a Provider's `pricing.batch` when it sets none. */
export const DEFAULT_BATCH_PRICE_MULTIPLIER = 0.5;

/** The endpoints a batch line may call, as the route serves them (a chat route serves all four inference ones). */
const LINE_OPERATIONS: ReadonlyMap<string, Operation | 'responses' | 'moderations'> = new Map([
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
  ['/v1/moderations', 'moderations'],
] as const);

/** A line's `url`: OpenAI's `/v1/chat/completions`, or Azure's `/chat/completions` (its batches take both). */
function lineEndpoint(url: string): string {
  return url.startsWith('/v1/') ? url : `/v1${url}`;
}

/** What a batch line is checked against of a target: the model it runs, as its upstream names it in a batch, and its prices. */
export type BatchTarget = Pick<ForwardTarget, 'target' | 'forwarding' | 'at'>;

/**
 * What a batch is charged and held at: the sum over its requests of each one's worst case (usage:
 * prompt estimates and output caps; costUsd: each at the dearest matching target's token prices,
 * times its batch multiplier).
 */
export interface BatchWorstCase extends CreationWorstCase {
  /** Requests in the input file. */
  requests: number;
}

export const batchErrors = {
  line: (fileId: string, line: number, field: string, why: string): GatewayError =>
    new GatewayError(400, 'invalid_batch_input', 'invalid_request_error', `line ${line} of the batch's input file ${fileId}: ${field} ${why}`, { param: 'input_file_id' }),
  tooManyRequests: (fileId: string): GatewayError =>
    new GatewayError(400, 'invalid_batch_input', 'invalid_request_error', `the batch's input file ${fileId} has more than ${MAX_BATCH_REQUESTS} requests (the most one batch takes)`, { param: 'input_file_id' }),
  empty: (fileId: string): GatewayError => new GatewayError(400, 'invalid_batch_input', 'invalid_request_error', `the batch's input file ${fileId} has no requests`, { param: 'input_file_id' }),
};

/**
 * Checks the requests of a batch's input file, one JSONL line at a time, against the route, and
 * sums their worst case. Each line must call an endpoint the route serves (and the batch's own
 * `endpoint`), and name in `body.model` a model one of the route's targets runs, as that upstream
 * names it (the file is run as it is: the gateway cannot rewrite it). Before, a batch ran whatever
 * models its file named, on the Provider's account, and was charged nothing.
 */
export class BatchLines implements LineSink {
  private requests = 0;
  private readonly usage: Usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  private costUsd = 0;
  /** The targets by the model a batch line names for each (Azure: its deployment). */
  private readonly byModel = new Map<string, BatchTarget[]>();

  constructor(
    private readonly route: RouteConfig,
    targets: readonly BatchTarget[],
    private readonly fileId: string,
    /** The batch's `endpoint`: every line calls it. */
    private readonly endpoint: string,
    private readonly maxJsonElements: number,
  ) {
    for (const t of targets) {
      const model = t.forwarding.batchModel?.(t.at) ?? t.target.model;
      this.byModel.set(model, [...(this.byModel.get(model) ?? []), t]);
    }
  }

  /** Whether a batch may call `endpoint` on this route (the inference endpoints; moderations when the route enables them). */
  static serves(route: RouteConfig, endpoint: string): boolean {
    const op = LINE_OPERATIONS.get(lineEndpoint(endpoint));
    return op !== undefined && (op !== 'moderations' || route.passThrough?.endpoints.includes('moderations') === true);
  }

  /** One line of the file (without its newline); blank lines are skipped, as OpenAI does. */
  add(text: string, line: number): void {
    if (text.trim() === '') return;
    if (++this.requests > MAX_BATCH_REQUESTS) throw batchErrors.tooManyRequests(this.fileId);
    const fail = (field: string, why: string): GatewayError => batchErrors.line(this.fileId, line, field, why);
    if (jsonTextShapeProblem(text, MAX_JSON_DEPTH, this.maxJsonElements) !== undefined) throw fail('the request', `is nested too deep or has more than ${this.maxJsonElements} objects, arrays and members (the gateway's limit on a request body)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw fail('the line', 'is not JSON');
    }
    if (!isObject(parsed)) throw fail('the line', 'is not a JSON object');
    const { url, body } = parsed;
    if (typeof url !== 'string') throw fail('url', 'is missing');
    if (lineEndpoint(url) !== lineEndpoint(this.endpoint)) throw fail('url', `is ${JSON.stringify(url)}, not the batch's endpoint ${this.endpoint}`);
    const op = LINE_OPERATIONS.get(lineEndpoint(url));
    if (op === undefined || !BatchLines.serves(this.route, url)) throw fail('url', `is ${JSON.stringify(url)}, which route ${this.route.id} does not serve`);
    if (!isObject(body)) throw fail('body', 'is missing');
    const model = body.model;
    if (typeof model !== 'string') throw fail('body.model', 'is missing');
    const runs = this.byModel.get(model);
    if (runs === undefined) {
      throw fail('body.model', `is ${JSON.stringify(model)}, which route ${this.route.id} does not run: its batches name ${[...this.byModel.keys()].map((m) => JSON.stringify(m)).join(' or ')} (the model its targets run, as the upstream names it)`);
    }
    const told: PromptParts = { tokens: 0 };
    const known = promptOf(op, body, told);
    const output = outputOf(op, body, this.route, known);
    // Its images at each target's model's bound, a file it names by id, at most the target's window (promptTokensOn).
    const media = told.media;
    let usd = 0;
    let most = known;
    for (const { target } of runs) {
      const p = target.pricing;
      const prompt = promptTokensOn(target, known, media);
      most = Math.max(most, prompt);
      usd = Math.max(usd, ((prompt * dearestInputPrice(p, prompt) + output * dearestOutputPrice(p, prompt)) / 1e6) * (p.batchMultiplier ?? DEFAULT_BATCH_PRICE_MULTIPLIER));
    }
    this.usage.inputTokens += most;
    this.usage.outputTokens += output;
    this.costUsd += usd;
  }

  /** The batch's worst case, once every line was added. */
  result(): BatchWorstCase {
    if (this.requests === 0) throw batchErrors.empty(this.fileId);
    return { requests: this.requests, usage: { ...this.usage }, costUsd: roundedUp(this.costUsd), reason: 'batch_worst_case' };
  }
}

/** A line's prompt estimate, as the endpoint it calls estimates its body; files it names but does not carry told in `told`. */
function promptOf(op: Operation | 'responses' | 'moderations', body: JsonObject, told: PromptParts): number {
  if (op === 'responses') return promptTokensOf(body, told);
  if (op === 'moderations') return estimatePromptTokens({ input: body.input ?? '' });
  return estimatePromptTokens(body, told);
}

/** A line's output cap: what it asks (max_tokens, max_completion_tokens, a Response's max_output_tokens) × n, else the route's default cap. */
function outputOf(op: Operation | 'responses' | 'moderations', body: JsonObject, route: RouteConfig, prompt: number): number {
  if (op === 'moderations' || op === 'embeddings') return 0;
  if (op === 'responses') return outputCap({ op: 'chat', body: body.max_output_tokens === undefined ? {} : { max_tokens: body.max_output_tokens } }, route, prompt);
  return outputCap({ op, body }, route, prompt);
}
