import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { JsonObject } from '../../core/canonical.js';
import type { RouteConfig } from '../../config/snapshot.js';
import { errors, GatewayError } from '../../core/gateway-error.js';
import { isObject } from '../../providers/shared/json-guards.js';
import { IMAGE_TOKENS, imageTokensOn } from '../../metering/token-estimate.js';
import { type InputFile, type InputFileLimits, type LineSink, readInputFile } from './input-file.js';
import type { ForwardTarget } from './passthrough-route.js';
import type { CreationWorstCase } from './worst-case-admission.js';
import { roundedUp } from '../../metering/cost.js';

/** Whether a pass-through request creates a fine-tuning job: its files are read and its trained tokens held first. */
export function createsFineTuningJob(method: string, path: string): boolean {
  return method === 'POST' && path === '/v1/fine_tuning/jobs';
}

/**
 * The epochs a job whose `n_epochs` is "auto" (or absent) is charged: OpenAI's auto rule, as its
 * fine-tuning cookbook publishes it, picks 3 and at most MAX_DEFAULT_EPOCHS = 25 (for a file of
 * under 4 examples); the API reference says only that "auto" depends on the dataset's size. 25
 * covers any file; a job that sets n_epochs is charged what it sets.
 */
export const AUTO_EPOCHS_BOUND = 25;
/** The most epochs the API takes (1 to 50). */
const MAX_EPOCHS = 50;

/** A JSON string token naming an image part (its `type`, or the key holding its URL). */
const IMAGE_TOKEN = '"image_url"';
/** A JSON escape of an ASCII character (`\u005f` is `_`): `"image\u005furl"` is `"image_url"` to the upstream's parser. */
const ASCII_ESCAPE = /\\u00([0-7][0-9a-fA-F])/g;

/**
 * An upper bound on the tokens one example (one JSONL line) is trained on: one token per byte of
 * the line, plus IMAGE_TOKENS for each image part. OpenAI's tokenizers are byte-level BPE, whose
 * every token is at least one byte of text, so an example's text never has more tokens than bytes;
 * the JSON around it (keys, quotes, `"role":"user"`, at least 25 bytes a message) is more than
 * the few tokens a chat format adds per message (3, and 3 for the reply). An image's URL is not
 * its tokens: each is counted at IMAGE_TOKENS.other besides (twice: its `type` and its key name it).
 * The gateway's prompt estimate (bytes / 4) is not used here: text of digits, symbols or CJK has
 * fewer than 4 bytes a token, and a training file is charged with no usage to correct it.
 * `imageTokens`: what one image is counted at, the most the job's models bill for one
 * (imageTokensOn: 48,169 on gpt-4o-mini); before, IMAGE_TOKENS on every model. Image parts are
 * found with their ASCII escapes read (`"image\u005furl"`): before, so written they counted 0.
 */
export function exampleTokenBound(line: string, imageTokens: number = IMAGE_TOKENS.other): number {
  let tokens = Buffer.byteLength(line, 'utf8');
  const text = line.includes('\\u') ? line.replace(ASCII_ESCAPE, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))) : line;
  for (let at = text.indexOf(IMAGE_TOKEN); at !== -1; at = text.indexOf(IMAGE_TOKEN, at + IMAGE_TOKEN.length)) tokens += imageTokens;
  return tokens;
}

/** Sums the token bound of a training or validation file's examples as it streams. */
class TrainingTokens implements LineSink {
  examples = 0;
  tokens = 0;
  constructor(private readonly imageTokens: number) {}
  add(text: string): void {
    if (text.trim() === '') return;
    this.examples++;
    this.tokens += exampleTokenBound(text, this.imageTokens);
  }
}

export const fineTuningErrors = {
  unpriced: (route: RouteConfig, targets: readonly ForwardTarget[]): GatewayError =>
    new GatewayError(
      400,
      'training_unpriced',
      'invalid_request_error',
      `route ${route.id} cannot price a fine-tuning job: ${targets.map((t) => `model ${t.target.model} of Provider ${t.target.providerId}`).join(', ')} has no pricing.training (USD per million trained tokens); the job would run uncharged. Set it on the Provider's model (0 to fine-tune free of charge)`,
      { param: 'model' },
    ),
  epochs: (param: string): GatewayError => errors.badRequest(`${param} must be "auto" or a whole number from 1 to ${MAX_EPOCHS}`, param),
  reinforcement: (): GatewayError =>
    new GatewayError(
      400,
      'fine_tuning_unbounded',
      'invalid_request_error',
      'reinforcement fine-tuning is billed by the hours it trains and the model graders it runs, which the gateway cannot bound before the job runs: it is not served (supervised and dpo jobs are, charged their trained tokens)',
      { param: 'method.type' },
    ),
};

/** The epochs a job trains: the largest `n_epochs` it names (legacy `hyperparameters`, its method's), AUTO_EPOCHS_BOUND for "auto" or none. */
export function epochsOf(body: JsonObject): number {
  const found: number[] = [];
  const read = (hyper: unknown, param: string): void => {
    if (!isObject(hyper) || hyper.n_epochs === undefined || hyper.n_epochs === null) return;
    const n = hyper.n_epochs;
    if (n === 'auto') found.push(AUTO_EPOCHS_BOUND);
    else if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_EPOCHS) found.push(n);
    else throw fineTuningErrors.epochs(param);
  };
  read(body.hyperparameters, 'hyperparameters.n_epochs');
  const method = body.method;
  if (isObject(method)) {
    if (method.type === 'reinforcement' || method.reinforcement !== undefined) throw fineTuningErrors.reinforcement();
    for (const kind of ['supervised', 'dpo']) {
      const m = method[kind];
      if (isObject(m)) read(m.hyperparameters, `method.${kind}.hyperparameters.n_epochs`);
    }
  }
  return found.length === 0 ? AUTO_EPOCHS_BOUND : Math.max(...found);
}

/**
 * The worst case of the fine-tuning job a `POST /v1/fine_tuning/jobs` body asks for, before it goes
 * upstream: its training file (and validation file) read from the route's targets, bounded as a
 * batch's input file is (input-file.ts), each example's tokens bounded (exampleTokenBound), times
 * its epochs, at the dearest training price of the targets that may run it. 400 when one of them
 * has no training price: a route that cannot price a job does not run it uncharged.
 */
export async function fineTuningWorstCase(
  json: unknown,
  route: RouteConfig,
  targets: readonly ForwardTarget[],
  limits: InputFileLimits,
  agents: { http: HttpAgent; https: HttpsAgent },
): Promise<CreationWorstCase> {
  if (!isObject(json)) throw errors.badRequest('a fine-tuning job is created with a JSON body (model, training_file)');
  const unpriced = targets.filter((t) => t.target.pricing.trainingPerMTok === undefined);
  if (unpriced.length > 0) throw fineTuningErrors.unpriced(route, unpriced);
  const epochs = epochsOf(json);
  const training = json.training_file;
  if (typeof training !== 'string' || training === '') throw errors.badRequest('training_file is required', 'training_file');
  const files: InputFile[] = [{ id: training, param: 'training_file', title: 'the training file', code: 'training_file' }];
  const validation = json.validation_file;
  if (typeof validation === 'string' && validation !== '') files.push({ id: validation, param: 'validation_file', title: 'the validation file', code: 'validation_file' });
  const counted = new TrainingTokens(Math.max(IMAGE_TOKENS.other, ...targets.map((t) => imageTokensOn(t.target.model, undefined))));
  // The validation file is not trained on, but its examples are run through the model as it trains: counted as trained, an over-count.
  for (const file of files) await readInputFile(targets, file, counted, limits, agents);
  const tokens = counted.tokens * epochs;
  const price = Math.max(0, ...targets.map((t) => t.target.pricing.trainingPerMTok ?? 0));
  return { usage: { inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0 }, costUsd: roundedUp((tokens * price) / 1e6), reason: 'fine_tuning_worst_case' };
}
