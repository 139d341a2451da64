import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { JsonObject } from '../../core/canonical.js';
import type { RouteConfig } from '../../config/snapshot.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { outputCap } from '../../governance/admission.js';
import { dearestInputPrice, dearestOutputPrice, roundedUp } from '../../metering/cost.js';
import { combinedMedia, estimateTokens, estimateValueTokens, type PromptMedia, type PromptParts, promptTokensOn } from '../../metering/token-estimate.js';
import { MAX_JSON_DEPTH } from '../body/json-body.js';
import { jsonTextShapeProblem } from '../../core/json-shape.js';
import { firstAnswer, type InputFileLimits, type LineSink, readBounded, readInputFile } from './input-file.js';
import { passThroughPath } from './passthrough-paths.js';
import type { ForwardTarget } from './passthrough-route.js';
import type { CreationWorstCase } from './worst-case-admission.js';

const RUNS_ROUTE = '/v1/evals/{id}/runs';

/** Whether a pass-through request creates an eval run: one whose data source runs a model is checked and held first. */
export function createsEvalRun(method: string, path: string): boolean {
  return method === 'POST' && path.startsWith('/v1/evals/') && path.endsWith('/runs') && passThroughPath(path)?.route === RUNS_ROUTE;
}

/** The model an eval run's data source runs (`data_source.model`), or undefined when it names none. */
export function evalRunModel(json: unknown): string | undefined {
  const source = isObject(json) ? json.data_source : undefined;
  return isObject(source) && typeof source.model === 'string' ? source.model : undefined;
}

/** Whether a request creates an eval, or changes one (`POST /v1/evals`, `POST /v1/evals/{id}`): its testing criteria are checked first. */
export function definesEval(method: string, path: string): boolean {
  return method === 'POST' && (path === '/v1/evals' || (path.startsWith('/v1/evals/') && passThroughPath(path)?.route === '/v1/evals/{id}'));
}

/** Graders that run a model on each item of every run (their own `model`, billed to the account). */
const MODEL_GRADERS = new Set(['label_model', 'score_model']);

/** The type of the first grader in `value` that runs a model (a testing criterion, or one inside a `multi` grader's `graders`); undefined when none does. */
function modelGrader(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = modelGrader(v);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!isObject(value)) return undefined;
  if (typeof value.type === 'string' && MODEL_GRADERS.has(value.type)) return value.type;
  // The body's depth was bounded when it was read (MAX_JSON_DEPTH): the walk is too.
  for (const key in value) {
    const found = modelGrader(value[key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Refuses an eval whose testing criteria run a model: a label_model or score_model grader runs its
 * model on every item of every run, upstream, unseen and uncharged, as the refused
 * /v1/fine_tuning/alpha/graders endpoints would. Before, such an eval was created, and each of its
 * runs executed the grader's model (any model of the account) charged only as an API call.
 */
export function refuseModelGraders(json: unknown, storedEval?: string): void {
  const criteria = isObject(json) ? json.testing_criteria : undefined;
  const found = modelGrader(criteria);
  if (found === undefined) return;
  // A run's body does not hold the criteria: the stored eval's do (it was made outside the gateway, or before it checked them).
  const whose = storedEval === undefined ? 'testing_criteria' : `eval ${storedEval}'s testing_criteria`;
  throw new GatewayError(
    400,
    'model_grader_not_supported',
    'invalid_request_error',
    `${whose} has a ${found} grader, which runs a model on every item of every run, upstream, where the gateway can neither check nor charge it: not served (string_check, text_similarity and python graders are)`,
    storedEval === undefined ? { param: 'testing_criteria' } : {},
  );
}

export const storedEvalErrors = {
  notFound: (id: string): GatewayError => new GatewayError(404, 'eval_not_found', 'invalid_request_error', `eval ${id} was not found at the route's targets`),
  tooLarge: (id: string, limit: number): GatewayError =>
    new GatewayError(413, 'eval_too_large', 'invalid_request_error', `eval ${id} is larger than ${limit} bytes, the gateway's limit on a request body, which bounds what it reads of the eval to check its graders`),
  unreadable: (id: string, why: readonly string[]): GatewayError => new GatewayError(502, 'eval_unreadable', 'server_error', `eval ${id} could not be read to check its graders: ${why.join('; ')}`),
};

/**
 * Refuses a run of an eval whose testing criteria run a model (refuseModelGraders): the run's body
 * names only the eval, so the eval is read first (`GET /v1/evals/{id}` from the route's targets, with
 * the Provider's key, bounded by the gateway's limit on a request body, as many JSON elements and
 * levels, and the route's total timeout). An eval made through the gateway was checked when it was
 * made; one made outside it (or before the gateway checked them) was not, and each run executed its
 * graders' models uncharged.
 */
export async function refuseStoredModelGraders(
  path: string,
  targets: readonly ForwardTarget[],
  limits: { maxLineBytes: number; maxJsonElements: number; deadline: number },
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<void> {
  // `/v1/evals/{id}/runs`: the id was checked as one (passThroughPath), and becomes a path upstream.
  const id = path.split('/')[3] ?? '';
  const found = await firstAnswer(targets, `/v1/evals/${id}`, limits.deadline, agents);
  if (found === undefined) throw storedEvalErrors.notFound(id);
  if (Array.isArray(found)) throw storedEvalErrors.unreadable(id, found.length === 0 ? ['no target of the route serves evals'] : found);
  if (Number(found.headers['content-length'] ?? 0) > limits.maxLineBytes) {
    found.destroy();
    throw storedEvalErrors.tooLarge(id, limits.maxLineBytes);
  }
  const read = await readBounded(found, limits.maxLineBytes, limits.deadline);
  if (!Buffer.isBuffer(read)) throw read.tooLarge ? storedEvalErrors.tooLarge(id, limits.maxLineBytes) : storedEvalErrors.unreadable(id, [read.why]);
  const text = read.toString('utf8');
  // modelGrader walks the eval as deep as it nests: bounded as a request body is.
  if (jsonTextShapeProblem(text, MAX_JSON_DEPTH, limits.maxJsonElements) !== undefined) throw storedEvalErrors.unreadable(id, [`it is nested deeper than ${MAX_JSON_DEPTH} levels or has more than ${limits.maxJsonElements} objects, arrays and members`]);
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch {
    throw storedEvalErrors.unreadable(id, ['it is not JSON']);
  }
  refuseModelGraders(stored, id);
}

export const evalRunErrors = {
  model: (route: RouteConfig, model: string, runs: readonly string[]): GatewayError =>
    new GatewayError(
      400,
      'model_not_served',
      'invalid_request_error',
      `data_source.model is ${JSON.stringify(model)}, which route ${route.id} does not run: its eval runs name ${runs.map((m) => JSON.stringify(m)).join(' or ')} (the route's model, or the model its targets run)`,
      { param: 'data_source.model' },
    ),
  unbounded: (kind: unknown): GatewayError =>
    new GatewayError(
      400,
      'eval_run_unbounded',
      'invalid_request_error',
      `an eval run whose data source runs a model (data_source.model) takes its items from a file (source type file_id) or inline (file_content): a source of type ${JSON.stringify(kind)} has as many items as the account stores, which the gateway cannot bound, hold and charge before the run`,
      { param: 'data_source.source' },
    ),
  line: (fileId: string, line: number, limit: number): GatewayError =>
    new GatewayError(
      400,
      'invalid_eval_source',
      'invalid_request_error',
      `line ${line} of the eval run's source file ${fileId} is nested deeper than ${MAX_JSON_DEPTH} levels or has more than ${limit} objects, arrays and members (the gateway's limit on a request body)`,
      { param: 'data_source.source.id' },
    ),
};

/**
 * Sums an eval run's worst case item by item: each item's prompt (the run's messages and sampling
 * parameters, plus the item itself for each place they substitute it) and output cap, at the
 * dearest prices of the route's targets (the run is sent to any of them, its model the target's).
 * An item is estimated as the prompt estimator estimates a request (estimateValueTokens): its
 * images at each target's model's bound, a file it names by id at UNREAD_FILE_TOKENS, at most the
 * target's window (promptTokensOn). Before, as JSON text: an image by URL or a file by id counted
 * as the few bytes of its URL or id.
 */
class EvalItems implements LineSink {
  items = 0;
  inputTokens = 0;
  outputTokens = 0;
  costUsd = 0;

  constructor(
    private readonly route: RouteConfig,
    private readonly targets: readonly ForwardTarget[],
    /** The tokens each item is run with besides itself (input_messages, sampling_params), and their media. */
    private readonly fixed: number,
    private readonly fixedMedia: PromptMedia | undefined,
    /** How many times an item is substituted into its prompt: each `{{...}}` of input_messages (or 1). */
    private readonly uses: number,
    /** `sampling_params.max_completion_tokens`, when set. */
    private readonly maxCompletion: number | undefined,
    /** A file_id source's id and the gateway's bound on a line's JSON elements (a line's depth and size, as a request body's). */
    private readonly file?: { id: string; maxJsonElements: number },
  ) {}

  /** One JSONL line of a file_id source (one at a time: nothing of it is kept). */
  add(text: string, line: number): void {
    if (text.trim() === '') return;
    const file = this.file;
    if (file !== undefined && jsonTextShapeProblem(text, MAX_JSON_DEPTH, file.maxJsonElements) !== undefined) throw evalRunErrors.line(file.id, line, file.maxJsonElements);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not an item the upstream can run: its text, as before.
      this.item(undefined, estimateTokens(text));
      return;
    }
    this.item(parsed);
  }

  /** One item of a file_content source, or of a file; `asText`: a line that is not JSON, estimated as its text. */
  item(value: unknown, asText?: number): void {
    const told: PromptParts = { tokens: 0 };
    const itemTokens = asText ?? estimateValueTokens(value, told);
    const known = this.fixed + this.uses * itemTokens;
    const media = combinedMedia(this.fixedMedia, told.media, this.uses);
    // The output cap is fitted to the prompt as estimated (window-clamped caps read the text, as for any request).
    const output = this.maxCompletion ?? outputCap({ op: 'chat', body: {} }, this.route, known);
    this.items++;
    let most = known;
    let usd = 0;
    for (const { target } of this.targets) {
      const prompt = promptTokensOn(target, known, media);
      most = Math.max(most, prompt);
      usd = Math.max(usd, (prompt * dearestInputPrice(target.pricing, prompt) + output * dearestOutputPrice(target.pricing, prompt)) / 1e6);
    }
    this.inputTokens += most;
    this.outputTokens += output;
    this.costUsd += usd;
  }
}

/** The names an eval run's model may have on this route: its public model, and its targets' (as each upstream names it in a body). */
export function evalRunModels(route: RouteConfig, targets: readonly ForwardTarget[], path: string): string[] {
  const names = new Set([route.model]);
  for (const t of targets) {
    names.add(t.target.model);
    names.add(t.forwarding.bodyModel?.(path, t.at) ?? t.target.model);
  }
  return [...names];
}

/**
 * The worst case of an eval run (`POST /v1/evals/{id}/runs`) whose data source runs a model
 * (`data_source.model`), before it goes upstream; undefined for one that runs none (a `jsonl` data
 * source: its samples are given, only graders run). The model must be the route's (it is then
 * replaced by the target's as it is sent, as a fine-tuning job's is); the items must come from a
 * file (read bounded, as a batch's input file) or inline, whose count is known: a source of stored
 * completions or responses is refused. Each item is charged its prompt estimate and
 * `sampling_params.max_completion_tokens` (else the route's output cap).
 */
export async function evalRunWorstCase(
  json: unknown,
  route: RouteConfig,
  targets: readonly ForwardTarget[],
  path: string,
  limits: InputFileLimits & { maxJsonElements: number },
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<CreationWorstCase | undefined> {
  const model = evalRunModel(json);
  if (model === undefined || !isObject(json) || !isObject(json.data_source)) return undefined;
  const ds = json.data_source;
  const names = evalRunModels(route, targets, path);
  if (!names.includes(model)) throw evalRunErrors.model(route, model, names);
  const sampling = isObject(ds.sampling_params) ? ds.sampling_params : {};
  const max = sampling.max_completion_tokens;
  if (max !== undefined && max !== null && !(typeof max === 'number' && Number.isInteger(max) && max >= 0)) throw errors.badRequest('data_source.sampling_params.max_completion_tokens must be a whole number', 'data_source.sampling_params.max_completion_tokens');
  const { max_completion_tokens: _cap, ...sampled } = sampling;
  const messages = ds.input_messages;
  // A template's `{{item.x}}` (or `{{sample...}}`) is replaced by part of the item: at most all of it each time.
  const template = messages === undefined ? '' : JSON.stringify(messages);
  const uses = isObject(messages) && messages.type === 'template' ? Math.max(1, template.split('{{').length - 1) : 1;
  // The reply's few format tokens are within the estimate of the JSON keys counted here. A
  // template's own images (input_image parts) and files are held as the items' are.
  const fixedTold: PromptParts = { tokens: 0 };
  const fixed = estimateValueTokens(messages, fixedTold) + estimateTokens(JSON.stringify(sampled satisfies JsonObject));
  const cap = typeof max === 'number' ? max : undefined;
  const source = ds.source;
  if (!isObject(source)) throw errors.badRequest('data_source.source is required', 'data_source.source');
  let items: EvalItems;
  if (source.type === 'file_content') {
    if (!Array.isArray(source.content)) throw errors.badRequest('data_source.source.content must be a list of items', 'data_source.source.content');
    items = new EvalItems(route, targets, fixed, fixedTold.media, uses, cap);
    // The body's depth and elements were bounded when it was read (MAX_JSON_DEPTH).
    for (const item of source.content) items.item(item);
  } else if (source.type === 'file_id') {
    if (typeof source.id !== 'string' || source.id === '') throw errors.badRequest('data_source.source.id is required', 'data_source.source.id');
    items = new EvalItems(route, targets, fixed, fixedTold.media, uses, cap, { id: source.id, maxJsonElements: limits.maxJsonElements });
    await readInputFile(targets, { id: source.id, param: 'data_source.source.id', title: "the eval run's source file", code: 'eval_source' }, items, limits, agents);
  } else throw evalRunErrors.unbounded(source.type);
  return {
    usage: { inputTokens: items.inputTokens, outputTokens: items.outputTokens, cachedInputTokens: 0 },
    costUsd: roundedUp(items.costUsd),
    reason: 'eval_worst_case',
  };
}
