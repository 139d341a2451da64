import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { estimateTokens, IMAGE_TOKENS } from '../../dataplane/metering/token-estimate.js';

// Fine-tuning jobs (POST /v1/fine_tuning/jobs) and eval runs (POST /v1/evals/{id}/runs) make the
// Provider's account run work later, unseen: training tokens, and the model an eval run's data
// source names. The gateway reads a job's files and a run's items before they go upstream (as a
// batch's input file), holds their worst case against the Budgets and charges it at creation.
// Before, both were charged only as API calls, and a run executed any model of the account.

const MINI = 'gpt-4o-mini-2024-07-18';
const route = (name: string, model: string, endpoints: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: openai-up }, model: ${model} }]
  passThrough: { endpoints: [${endpoints}], maxUploadBytes: 8192 }
---
`;
const budget = (name: string, routeName: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: ${name} }
spec:
  limit: { amount: 0.01, unit: USD }
  period: Day
  subjects: { routes: [{ name: ${routeName} }] }
  action: { type: Reject }
---
`;

const example = (i: number): string => JSON.stringify({ messages: [{ role: 'user', content: `question ${i}` }, { role: 'assistant', content: `answer ${i}` }] });
const jsonl = (lines: readonly string[]): Buffer => Buffer.from(lines.join('\n') + '\n');

describe('fine-tuning jobs and eval runs: held and charged their worst case', () => {
  let upstream: PassThroughEmulator;
  let gateway: TestGateway;
  const on = (model: string): OpenAI => new OpenAI({ apiKey: 'unused', baseURL: `${gateway.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-model': model } });
  const records = () => gateway.usage.records;
  const posted = (prefix: RegExp) => upstream.requests.filter((r) => r.method === 'POST' && prefix.test(r.url));

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    gateway = await startTestGateway({
      'providers.yaml':
        providerManifest(
          'openai-up',
          'openai',
          `${upstream.url}/v1`,
          '{ secretRef: { name: up-key, key: apiKey } }',
          `  models:\n    - { name: ${MINI}, pricing: { input: 0.15, output: 0.6, training: 3 } }\n    - { name: gpt-4o, pricing: { input: 2.5, output: 10 } }\n`,
        ) + secretManifest('up-key', { apiKey: 'sk-upstream' }),
      'routes.yaml':
        route('ft', MINI, 'fine_tuning') + route('ft-unpriced', 'gpt-4o', 'fine_tuning') + route('ft-tight', MINI, 'fine_tuning') + budget('ft-cap', 'ft-tight') +
        route('judge', MINI, 'evals') + route('judge-tight', MINI, 'evals') + budget('judge-cap', 'judge-tight'),
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('a job is charged its files\' token bound × its epochs at the training price; its files read with the Provider\'s key', async () => {
    const train = [example(1), example(2), example(3)];
    const valid = [example(4)];
    upstream.files.set('file-train', jsonl(train));
    upstream.files.set('file-valid', jsonl(valid));
    const before = records().length;
    const job = await on('ft').fineTuning.jobs.create({ model: 'ft', training_file: 'file-train', validation_file: 'file-valid', method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 3 } } } });
    expect(job).toMatchObject({ object: 'fine_tuning.job', model: MINI });
    expect(upstream.requests.find((r) => r.method === 'GET' && r.url === '/v1/files/file-train/content')?.headers.authorization).toBe('Bearer sk-upstream');
    // One token per byte of each example (a tokenizer's token is at least one byte), × 3 epochs.
    const tokens = [...train, ...valid].reduce((n, l) => n + Buffer.byteLength(l), 0) * 3;
    const rec = records().slice(before).find((r) => r.routeId === 'default/ft');
    expect(rec).toMatchObject({ op: 'passthrough', estimated: true, estimateReason: 'fine_tuning_worst_case', inputTokens: tokens, outputTokens: 0 });
    expect(rec?.costUsd).toBeCloseTo((tokens * 3) / 1e6, 8);
  });

  it('"auto" epochs (or none) are charged 25, the most OpenAI\'s published auto rule picks; an image part its model\'s image tokens', async () => {
    const line = JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/i.png' } }] }, { role: 'assistant', content: 'cat' }] });
    upstream.files.set('file-auto', jsonl([line]));
    const before = records().length;
    await on('ft').fineTuning.jobs.create({ model: 'ft', training_file: 'file-auto' });
    // gpt-4o-mini bills an image up to 48,169 tokens (counted twice: its type and its key name it). Before, 5,000 on every model.
    const tokens = (Buffer.byteLength(line) + 2 * 48_169) * 25;
    expect(records().slice(before).find((r) => r.routeId === 'default/ft')).toMatchObject({ estimateReason: 'fine_tuning_worst_case', inputTokens: tokens });
  });

  it('a route whose model has no training price refuses the job with 400 naming it; reinforcement fine-tuning is refused; nothing is created', async () => {
    const sent = posted(/^\/v1\/fine_tuning\/jobs$/).length;
    const unpriced = (await on('ft-unpriced').fineTuning.jobs.create({ model: 'ft-unpriced', training_file: 'file-train' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(unpriced).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unpriced.code).toBe('training_unpriced');
    expect(unpriced.message).toContain('model gpt-4o of Provider default/openai-up has no pricing.training');
    const rft = (await on('ft').fineTuning.jobs.create({ model: 'ft', training_file: 'file-train', method: { type: 'reinforcement', reinforcement: { grader: { type: 'string_check', name: 'g', input: '{{sample.output_text}}', operation: 'eq', reference: 'a' } } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(rft.status).toBe(400);
    expect(rft.code).toBe('fine_tuning_unbounded');
    const missing = (await on('ft').fineTuning.jobs.create({ model: 'ft', training_file: 'file-nowhere' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(missing.status).toBe(400);
    expect(missing.message).toContain('the training file file-nowhere was not found');
    expect(posted(/^\/v1\/fine_tuning\/jobs$/).length).toBe(sent);
  });

  it('a job whose worst case a Budget cannot hold is refused with 429 budget_exceeded, and nothing is created', async () => {
    // 40 examples × ~80 bytes × 25 epochs ≈ 80,000 tokens × $3/M = $0.24 against $0.01.
    upstream.files.set('file-many', jsonl(Array.from({ length: 40 }, (_, i) => example(i))));
    const sent = posted(/^\/v1\/fine_tuning\/jobs$/).length;
    const err = (await on('ft-tight').fineTuning.jobs.create({ model: 'ft-tight', training_file: 'file-many' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('budget_exceeded');
    expect(posted(/^\/v1\/fine_tuning\/jobs$/).length).toBe(sent);
  });

  const evaluation = async (model: string): Promise<string> => (await on(model).evals.create({ name: 'qa', data_source_config: { type: 'custom', item_schema: { type: 'object' } }, testing_criteria: [] })).id;
  const template = { type: 'template' as const, template: [{ role: 'user' as const, content: 'Answer: {{item.question}}' }] };

  it('an eval run whose data source runs the route\'s model runs the target\'s, charged each item\'s prompt and max_completion_tokens', async () => {
    const id = await evaluation('judge');
    const content = [{ item: { question: 'two plus two' } }, { item: { question: 'capital of France' } }];
    const before = records().length;
    const run = await on('judge').evals.runs.create(id, { data_source: { type: 'completions', model: 'judge', input_messages: template, sampling_params: { max_completion_tokens: 50, temperature: 0 }, source: { type: 'file_content', content } } });
    expect(run).toMatchObject({ object: 'eval.run', status: 'queued' });
    const sent = JSON.parse(posted(/\/runs$/).at(-1)?.body.toString() ?? '{}') as { data_source: { model: string } };
    expect(sent.data_source.model).toBe(MINI);
    const fixed = estimateTokens(JSON.stringify(template)) + estimateTokens(JSON.stringify({ temperature: 0 }));
    const prompt = content.reduce((n, c) => n + fixed + estimateTokens(JSON.stringify(c)), 0);
    const rec = records().slice(before).find((r) => r.routeId === 'default/judge');
    expect(rec).toMatchObject({ estimated: true, estimateReason: 'eval_worst_case', inputTokens: prompt, outputTokens: 100 });
    expect(rec?.costUsd).toBeCloseTo((prompt * 0.15 + 100 * 0.6) / 1e6, 8);
  });

  it('an item\'s images are held at the target model\'s image bound and a file it names by id at the unread-file bound, inline or from a file (before: the bytes of the URL and the id)', async () => {
    const id = await evaluation('judge');
    const referenced = { type: 'item_reference' as const, item_reference: 'item.input' };
    const picture = { item: { input: [{ role: 'user', content: [{ type: 'input_text', text: 'what is it?' }, { type: 'input_image', image_url: 'https://example.test/cat.png' }] }] } };
    const filed = { item: { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-report' }] }] } };
    const before = records().length;
    await on('judge').evals.runs.create(id, { data_source: { type: 'responses', model: 'judge', input_messages: referenced, sampling_params: { max_completion_tokens: 10 }, source: { type: 'file_content', content: [picture] } } });
    const image = records().slice(before).find((r) => r.routeId === 'default/judge');
    // gpt-4o-mini bills an image up to 48,169 tokens (metering/token-estimate MODEL_IMAGE_TOKENS).
    expect(image).toMatchObject({ estimateReason: 'eval_worst_case', outputTokens: 10 });
    expect(image?.inputTokens).toBeGreaterThanOrEqual(48_169);
    expect(image?.inputTokens).toBeLessThan(48_169 + 200);
    upstream.files.set('file-filed', jsonl([JSON.stringify(filed), JSON.stringify(picture)]));
    const next = records().length;
    await on('judge').evals.runs.create(id, { data_source: { type: 'responses', model: 'judge', input_messages: referenced, sampling_params: { max_completion_tokens: 10 }, source: { type: 'file_id', id: 'file-filed' } } });
    const both = records().slice(next).find((r) => r.routeId === 'default/judge');
    expect(both).toMatchObject({ estimateReason: 'eval_worst_case', outputTokens: 20 });
    expect(both?.inputTokens).toBeGreaterThanOrEqual(1_000_000 + 48_169);
    expect(both?.costUsd).toBeGreaterThanOrEqual(((1_000_000 + 48_169) * 0.15) / 1e6);
    // A template's own image part is held so too, once for each item.
    const templated = { type: 'template' as const, template: [{ role: 'user' as const, content: [{ type: 'input_image' as const, image_url: '{{item.url}}' }] }] };
    const third = records().length;
    await on('judge').evals.runs.create(id, { data_source: { type: 'responses', model: 'judge', input_messages: templated, sampling_params: { max_completion_tokens: 10 }, source: { type: 'file_content', content: [{ item: { url: 'https://example.test/a.png' } }, { item: { url: 'https://example.test/b.png' } }] } } });
    expect(records().slice(third).find((r) => r.routeId === 'default/judge')?.inputTokens).toBeGreaterThanOrEqual(2 * 48_169);
    // A line nested past a request body's depth is refused (its parts are read, so its depth is bounded), and nothing runs.
    upstream.files.set('file-deep', jsonl([`${'['.repeat(200)}1${']'.repeat(200)}`]));
    const sent = posted(/\/runs$/).length;
    const deep = (await on('judge').evals.runs.create(id, { data_source: { type: 'responses', model: 'judge', input_messages: referenced, source: { type: 'file_id', id: 'file-deep' } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(deep.status).toBe(400);
    expect(deep.code).toBe('invalid_eval_source');
    expect(posted(/\/runs$/).length).toBe(sent);
  });

  it('items from a file are read as a batch\'s input file is; a run of a model the route does not run, or of stored completions, is refused with 400', async () => {
    const id = await evaluation('judge');
    upstream.files.set('file-items', jsonl([JSON.stringify({ item: { question: 'a' } }), JSON.stringify({ item: { question: 'b' } }), JSON.stringify({ item: { question: 'c' } })]));
    const before = records().length;
    await on('judge').evals.runs.create(id, { data_source: { type: 'responses', model: MINI, input_messages: template, sampling_params: { max_completion_tokens: 10 }, source: { type: 'file_id', id: 'file-items' } } });
    expect(records().slice(before).find((r) => r.routeId === 'default/judge')).toMatchObject({ estimateReason: 'eval_worst_case', outputTokens: 30 });
    const sent = posted(/\/runs$/).length;
    const other = (await on('judge').evals.runs.create(id, { data_source: { type: 'completions', model: 'gpt-4o', input_messages: template, source: { type: 'file_id', id: 'file-items' } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(other).toBeInstanceOf(OpenAI.BadRequestError);
    expect(other.code).toBe('model_not_served');
    expect(other.message).toContain('data_source.model is "gpt-4o", which route default/judge does not run');
    const stored = (await on('judge').evals.runs.create(id, { data_source: { type: 'completions', model: MINI, source: { type: 'stored_completions' } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(stored.status).toBe(400);
    expect(stored.code).toBe('eval_run_unbounded');
    expect(posted(/\/runs$/).length).toBe(sent);
    // A run whose samples are given (jsonl) runs no model: charged as before, nothing.
    const n = records().length;
    await on('judge').evals.runs.create(id, { data_source: { type: 'jsonl', source: { type: 'file_content', content: [{ item: {}, sample: { output_text: 'x' } }] } } });
    expect(records().length).toBe(n);
  });

  it('an eval whose testing criteria run a model (label_model, score_model graders) is refused with 400, and nothing is created', async () => {
    const sent = posted(/^\/v1\/evals$/).length;
    const config = { type: 'custom' as const, item_schema: { type: 'object' } };
    const scored = (await on('judge').evals.create({ name: 'g', data_source_config: config, testing_criteria: [{ type: 'score_model', name: 's', model: 'o3', input: [{ role: 'user', content: 'score {{sample.output_text}}' }] }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(scored).toBeInstanceOf(OpenAI.BadRequestError);
    expect(scored.code).toBe('model_grader_not_supported');
    expect(scored.message).toContain('score_model grader');
    const labelled = (await on('judge').evals.create({ name: 'g', data_source_config: config, testing_criteria: [{ type: 'string_check', name: 'ok', input: '{{sample.output_text}}', operation: 'eq', reference: 'a' }, { type: 'label_model', name: 'l', model: 'gpt-4o', input: [{ role: 'user', content: 'label it' }], labels: ['a', 'b'], passing_labels: ['a'] }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(labelled.code).toBe('model_grader_not_supported');
    expect(posted(/^\/v1\/evals$/).length).toBe(sent);
    // A string check runs no model: created as before.
    expect((await on('judge').evals.create({ name: 'g', data_source_config: config, testing_criteria: [{ type: 'string_check', name: 'ok', input: '{{sample.output_text}}', operation: 'eq', reference: 'a' }] })).object).toBe('eval');
  });

  it('a run of an eval made outside the gateway whose graders run a model is refused with 400 (the eval read with the Provider\'s key), and nothing runs', async () => {
    const config = { type: 'custom', item_schema: { type: 'object' } };
    const grader = { type: 'score_model', name: 's', model: 'o3', input: [{ role: 'user', content: 'score {{sample.output_text}}' }] };
    upstream.objects.evals.set('eval_outside_multi', { id: 'eval_outside_multi', object: 'eval', name: 'x', data_source_config: config, testing_criteria: [{ type: 'multi', name: 'm', graders: { a: { type: 'string_check', name: 'a', input: 'x', operation: 'eq', reference: 'x' }, b: grader }, calculate_output: 'a + b' }] });
    upstream.objects.evals.set('eval_outside_label', { id: 'eval_outside_label', object: 'eval', name: 'x', data_source_config: config, testing_criteria: [{ type: 'label_model', name: 'l', model: 'gpt-4o', input: [], labels: ['a'], passing_labels: ['a'] }] });
    const sent = posted(/\/runs$/).length;
    const given = { type: 'jsonl' as const, source: { type: 'file_content' as const, content: [{ item: {}, sample: { output_text: 'x' } }] } };
    const multi = (await on('judge').evals.runs.create('eval_outside_multi', { data_source: given }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(multi).toBeInstanceOf(OpenAI.BadRequestError);
    expect(multi.code).toBe('model_grader_not_supported');
    expect(multi.message).toContain("eval eval_outside_multi's testing_criteria has a score_model grader");
    expect(upstream.requests.findLast((r) => r.method === 'GET' && r.url === '/v1/evals/eval_outside_multi')?.headers.authorization).toBe('Bearer sk-upstream');
    const label = (await on('judge').evals.runs.create('eval_outside_label', { data_source: { type: 'completions', model: 'judge', input_messages: template, source: { type: 'file_content', content: [{ item: { question: 'q' } }] } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(label.code).toBe('model_grader_not_supported');
    const missing = (await on('judge').evals.runs.create('eval_nowhere', { data_source: given }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.code).toBe('eval_not_found');
    expect(posted(/\/runs$/).length).toBe(sent);
  });

  it('an eval run whose worst case a Budget cannot hold is refused with 429 budget_exceeded, and nothing runs', async () => {
    const id = await evaluation('judge-tight');
    // 40 items × 4,096 output tokens (the route's default cap) × $0.6/M ≈ $0.1 against $0.01.
    const content = Array.from({ length: 40 }, (_, i) => ({ item: { question: `q${i}` } }));
    const sent = posted(/\/runs$/).length;
    const err = (await on('judge-tight').evals.runs.create(id, { data_source: { type: 'completions', model: 'judge-tight', input_messages: template, source: { type: 'file_content', content } } }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('budget_exceeded');
    expect(posted(/\/runs$/).length).toBe(sent);
    expect(upstream.problems).toEqual([]);
  });
});
