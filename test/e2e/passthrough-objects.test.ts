import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { type PassThroughEmulator, startPassThroughEmulator } from '../emulators/openai-passthrough.js';
import { apiKeySecretManifest, providerManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// The objects an OpenAI account keeps, served as pass-through endpoints a route opts into (vector
// stores, uploads, conversations, videos, containers, fine-tuning jobs, evals), driven by the
// official openai client against the OpenAI emulator and Azure OpenAI's v1 paths: the Provider's
// key replaces the caller's, the target's model replaces the caller's, vector store searches and
// videos are metered, everything else is logged only; the paths the gateway refuses say why.

const CALLER_KEY = 'tg-objects-caller';
const AZURE = { deployment: 'sora-prod', apiVersion: '2025-04-01-preview' };
const key = (secret: string): string => `{ secretRef: { name: ${secret}, key: apiKey } }`;

const route = (name: string, provider: string, model: string, endpoints: string): string => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: ${provider} }, model: ${model} }]
  passThrough: { endpoints: [${endpoints}] }
---
`;

const MODELS = `  models:
    - { name: file-search, pricing: { perFileSearch: 0.0025, perContainer: 0.03 } }
    - { name: sora-2, pricing: { perVideoSecond: 0.1 } }
    - { name: gpt-4o-mini-2024-07-18, pricing: { input: 0.15, output: 0.6, training: 3 } }
`;

describe('pass-through: the objects of the Provider account', () => {
  let upstream: PassThroughEmulator;
  let azure: PassThroughEmulator;
  let gateway: TestGateway;
  /** A client whose calls go to the route `model` (x-tollgate-model: these paths name none). */
  const on = (model: string): OpenAI => new OpenAI({ apiKey: CALLER_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-model': model } });
  const last = (e: PassThroughEmulator) => e.requests[e.requests.length - 1];
  const records = () => gateway.usage.records;

  beforeAll(async () => {
    upstream = await startPassThroughEmulator('sk-upstream');
    azure = await startPassThroughEmulator('az-key', AZURE);
    gateway = await startTestGateway(
      {
        'providers.yaml':
          providerManifest('openai-up', 'openai', `${upstream.url}/v1`, key('up-key'), MODELS) +
          providerManifest('az', 'azure-openai', azure.url, key('az-key'), `  azure: { deployment: ${AZURE.deployment}, apiVersion: "${AZURE.apiVersion}" }\n${MODELS}`) +
          secretManifest('up-key', { apiKey: 'sk-upstream' }) +
          secretManifest('az-key', { apiKey: 'az-key' }) +
          apiKeySecretManifest('caller', CALLER_KEY),
        'routes.yaml':
          route('knowledge', 'openai-up', 'file-search', 'vector_stores, uploads, conversations, containers, evals') +
          route('video', 'openai-up', 'sora-2', 'videos') +
          route('ft-base', 'openai-up', 'gpt-4o-mini-2024-07-18', 'fine_tuning') +
          route('video-capped', 'openai-up', 'sora-2', 'videos') +
          `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: video-cap }
spec:
  limit: { amount: 2, unit: USD }
  period: Day
  subjects: { routes: [{ name: video-capped }] }
---
` +
          route('az-knowledge', 'az', 'file-search', 'vector_stores, conversations') +
          route('az-video', 'az', 'sora-2', 'videos') +
          route('az-ft', 'az', 'gpt-4o-mini-2024-07-18', 'fine_tuning'),
      },
      { auth: new Authenticator({}), admin: true },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await azure?.close();
  });

  it('vector stores: created, filled, listed, searched (charged per search at the file search price), read and deleted with the Provider key', async () => {
    const client = on('knowledge');
    const before = records().length;
    const vs = await client.vectorStores.create({ name: 'handbook', file_ids: ['file-a'] });
    expect(vs).toMatchObject({ object: 'vector_store', name: 'handbook', file_counts: { total: 1 } });
    expect(last(upstream)?.headers.authorization).toBe('Bearer sk-upstream');
    expect(JSON.stringify(last(upstream)?.headers)).not.toContain(CALLER_KEY);
    expect(last(upstream)?.headers['x-tollgate-model']).toBeUndefined();
    await client.vectorStores.files.create(vs.id, { file_id: 'file-b' });
    const batch = await client.vectorStores.fileBatches.create(vs.id, { file_ids: ['file-c'] });
    expect(batch).toMatchObject({ object: 'vector_store.files_batch', status: 'completed' });
    const files = [];
    for await (const f of client.vectorStores.files.list(vs.id)) files.push(f.id);
    expect(files).toEqual(['file-a', 'file-b', 'file-c']);
    const listed = await client.vectorStores.list();
    expect(listed.data.map((v) => v.id)).toContain(vs.id);
    // Creating, listing and reading are logged, not metered: the storage is billed by the day upstream.
    expect(records().length).toBe(before);

    const { data: page, response } = await client.vectorStores.search(vs.id, { query: 'vacation policy' }).withResponse();
    expect(response.headers.get('x-tollgate-route')).toBe('default/knowledge');
    expect(page.data[0]).toMatchObject({ file_id: 'file-a', content: [{ type: 'text', text: 'text of file-a about vacation policy' }] });
    expect(records().slice(before)).toMatchObject([{ op: 'passthrough', routeId: 'default/knowledge', inputTokens: 0, outputTokens: 0 }]);
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.0025, 10);

    const content = [];
    for await (const c of client.vectorStores.files.content('file-b', { vector_store_id: vs.id })) content.push(c.text);
    expect(content).toEqual(['content of file-b']);
    await expect(client.vectorStores.retrieve('vs_missing')).rejects.toMatchObject({ status: 404, message: expect.stringContaining("No vector store found with id 'vs_missing'") });
    expect(await client.vectorStores.delete(vs.id)).toEqual({ id: vs.id, object: 'vector_store.deleted', deleted: true });
    expect(records().length).toBe(before + 1);
  });

  it('uploads: created, a part sent as a multipart form (streamed), completed into a file; a size mismatch is the upstream 400, relayed', async () => {
    const client = on('knowledge');
    const bytes = Buffer.alloc(3000, 7);
    const upload = await client.uploads.create({ bytes: bytes.length, filename: 'train.jsonl', mime_type: 'text/jsonl', purpose: 'fine-tune' });
    expect(upload).toMatchObject({ object: 'upload', status: 'pending', bytes: 3000 });
    const part = await client.uploads.parts.create(upload.id, { data: await toFile(bytes, 'part-1') });
    expect(part).toMatchObject({ object: 'upload.part', upload_id: upload.id });
    const form = last(upstream)?.form;
    expect(form?.get('data')).toBeInstanceOf(File);
    expect((form?.get('data') as File).size).toBe(3000);
    const done = await client.uploads.complete(upload.id, { part_ids: [part.id] });
    expect(done).toMatchObject({ status: 'completed', file: { object: 'file', bytes: 3000, purpose: 'fine-tune' } });

    const short = await client.uploads.create({ bytes: 10, filename: 'x.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
    await expect(client.uploads.complete(short.id, { part_ids: [] })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('does not match the number of bytes specified') });
    expect((await client.uploads.cancel(short.id)).status).toBe('cancelled');
  });

  it('a part larger than the route upload limit is refused with 413 before it reaches the upstream', async () => {
    const client = on('knowledge');
    const upload = await client.uploads.create({ bytes: 30 * 1024 * 1024, filename: 'big.jsonl', mime_type: 'text/jsonl', purpose: 'batch' });
    const sent = upstream.requests.length;
    // The route keeps the default limit (25 MiB); a part may be 64 MB upstream: raise maxUploadBytes for uploads.
    await expect(client.uploads.parts.create(upload.id, { data: await toFile(Buffer.alloc(26 * 1024 * 1024), 'part') })).rejects.toMatchObject({ status: 413 });
    expect(upstream.requests.length).toBe(sent);
  });

  it('conversations: created with items, items added, listed, read and deleted; an unknown id is the upstream 404', async () => {
    const client = on('knowledge');
    const conv = await client.conversations.create({ items: [{ type: 'message', role: 'user', content: 'hello' }], metadata: { topic: 'demo' } });
    expect(conv).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } });
    await client.conversations.items.create(conv.id, { items: [{ type: 'message', role: 'assistant', content: 'hi' }] });
    const items = [];
    for await (const item of client.conversations.items.list(conv.id)) items.push(item.type === 'message' ? item.role : item.type);
    expect(items).toEqual(['user', 'assistant']);
    expect((await client.conversations.update(conv.id, { metadata: { topic: 'other' } })).metadata).toEqual({ topic: 'other' });
    expect(await client.conversations.delete(conv.id)).toEqual({ id: conv.id, object: 'conversation.deleted', deleted: true });
    await expect(client.conversations.retrieve(conv.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('videos: the form runs the target model, charged by the seconds the answer reports; retrievals, lists and downloads are not charged; a remix is', async () => {
    const client = on('video');
    const before = records().length;
    const { data: video, response } = await client.videos.create({ model: 'sora-2-pro', prompt: 'a cat surfing', seconds: '8' }).withResponse();
    expect(response.headers.get('x-tollgate-route')).toBe('default/video');
    // The caller asked for sora-2-pro (dearer) on a route whose target is sora-2: sora-2 runs, as it is priced.
    expect(video).toMatchObject({ object: 'video', model: 'sora-2', seconds: '8', status: 'queued' });
    expect(last(upstream)?.form?.get('model')).toBe('sora-2');
    expect(records().slice(before)).toMatchObject([{ op: 'passthrough', routeId: 'default/video' }]);
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.8, 10);

    expect((await client.videos.retrieve(video.id)).id).toBe(video.id);
    const listed = await client.videos.list();
    expect(listed.data.map((v) => v.id)).toContain(video.id);
    const bytes = Buffer.from(await (await client.videos.downloadContent(video.id)).arrayBuffer()).toString();
    expect(bytes).toBe(`mp4 of ${video.id}`);
    expect(records().length).toBe(before + 1);

    const remix = await client.videos.remix(video.id, { prompt: 'at night' });
    expect(remix).toMatchObject({ remixed_from_video_id: video.id, seconds: '8' });
    expect(records().length).toBe(before + 2);
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.8, 10);

    // An invalid length is the upstream's 400 (relayed, param named) and is not charged.
    await expect(client.videos.create({ prompt: 'x', seconds: '5' as '4' })).rejects.toMatchObject({ status: 400, param: 'seconds', code: 'invalid_value' });
    expect(records().length).toBe(before + 2);
  });

  it('a Budget holds a video at its longest (a form whose seconds the gateway does not read: 12 s) and refuses one it cannot cover, before anything goes upstream', async () => {
    const client = on('video-capped');
    const charged = () => records().filter((r) => r.routeId === 'default/video-capped').map((r) => r.costUsd);
    // $2 a day, $0.10 a second: each 8 s video costs $0.80 and is admitted only while $1.20 (12 s) is left.
    await client.videos.create({ prompt: 'one', seconds: '8' });
    await client.videos.create({ prompt: 'two', seconds: '8' });
    expect(charged().map((c) => Math.round(c * 100) / 100)).toEqual([0.8, 0.8]);
    const sent = upstream.requests.length;
    await expect(client.videos.create({ prompt: 'three', seconds: '4' })).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    expect(upstream.requests.length).toBe(sent);
    // Reading what was made costs nothing and holds nothing: still served.
    expect((await client.videos.list()).data.length).toBeGreaterThan(0);
  });

  it('containers: created (charged a session of its memory at perContainer per GB), a file uploaded as a form and read back; fine-tuning jobs on the target base model (charged their worst case: passthrough-tuning-evals.test.ts); evals and their runs — logged, not metered', async () => {
    const before = records().length;
    const knowledge = on('knowledge');
    const container = await knowledge.containers.create({ name: 'scratch', memory_limit: '4g' });
    expect(container).toMatchObject({ object: 'container', status: 'running', name: 'scratch' });
    // OpenAI bills a 4g session 4 times a 1g one: $0.12 at $0.03 a GB. Before, a container was not charged.
    expect(records().at(-1)).toMatchObject({ routeId: 'default/knowledge', op: 'passthrough' });
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.12, 10);
    const charged = records().length;
    await knowledge.containers.retrieve(container.id);
    await knowledge.containers.list();
    expect(records().length).toBe(charged);
    const file = await knowledge.containers.files.create(container.id, { file: await toFile(Buffer.from('a,b\n1,2\n'), 'data.csv') });
    expect(file).toMatchObject({ object: 'container.file', bytes: 8, path: '/mnt/data/data.csv' });
    const read = await knowledge.containers.files.content.retrieve(file.id, { container_id: container.id });
    expect(await read.text()).toBe('a,b\n1,2\n');

    const tuning = on('ft-base');
    upstream.files.set('file-train', Buffer.from('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'));
    const job = await tuning.fineTuning.jobs.create({ model: 'ft-base', training_file: 'file-train' });
    // The route decides which base model is fine-tuned: its target's, whatever the client named.
    expect(job).toMatchObject({ object: 'fine_tuning.job', model: 'gpt-4o-mini-2024-07-18', status: 'validating_files' });
    const events = await tuning.fineTuning.jobs.listEvents(job.id);
    expect(events.data[0]).toMatchObject({ object: 'fine_tuning.job.event' });
    expect((await tuning.fineTuning.jobs.cancel(job.id)).status).toBe('cancelled');

    const evaluation = await knowledge.evals.create({ name: 'qa', data_source_config: { type: 'custom', item_schema: { type: 'object' } }, testing_criteria: [] });
    expect(evaluation).toMatchObject({ object: 'eval', name: 'qa' });
    const run = await knowledge.evals.runs.create(evaluation.id, { data_source: { type: 'jsonl', source: { type: 'file_id', id: 'file-x' } } });
    expect(run).toMatchObject({ object: 'eval.run', eval_id: evaluation.id, status: 'queued' });
    expect((await knowledge.evals.runs.list(evaluation.id)).data).toHaveLength(1);
    // The container and the job (its trained tokens' worst case) only.
    expect(records().slice(before).map((r) => r.estimateReason)).toEqual([undefined, 'fine_tuning_worst_case']);
  });

  it('a route that does not enable the endpoint answers 404 naming it; a path refused on purpose says why instead of a bare 404', async () => {
    await expect(on('knowledge').videos.list()).rejects.toMatchObject({ status: 404, code: 'endpoint_not_enabled', message: expect.stringContaining('default/knowledge') });
    const client = on('knowledge');
    // What client.realtime.clientSecrets.create and client.fineTuning.checkpoints.permissions.create
    // call (the client sends these with an admin key it is not given here: posted as they are).
    await expect(client.post('/realtime/client_secrets', { body: { session: { type: 'realtime', model: 'gpt-realtime' } } })).rejects.toMatchObject({
      status: 403,
      code: 'endpoint_refused',
      message: expect.stringContaining("mints an ephemeral key of the Provider's account"),
    });
    await expect(client.post('/realtime/sessions', { body: {} })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(client.post('/chatkit/sessions', { body: {} })).rejects.toMatchObject({ status: 403, code: 'endpoint_refused' });
    await expect(client.get('/organization/costs')).rejects.toMatchObject({ status: 403, code: 'endpoint_refused' });
    await expect(client.beta.assistants.list()).rejects.toMatchObject({ status: 404, code: 'endpoint_retired', message: expect.stringContaining('retired') });
    await expect(client.chat.completions.list()).rejects.toMatchObject({ status: 400, code: 'endpoint_not_supported', message: expect.stringContaining('stored chat completions') });
    await expect(client.models.delete('ft:gpt-4o-mini:org::abc')).rejects.toMatchObject({ status: 403, code: 'endpoint_refused' });
    await expect(client.post('/fine_tuning/checkpoints/ft:gpt-4o-mini:org::abc:ckpt-step-10/permissions', { body: { project_ids: ['proj_x'] } })).rejects.toMatchObject({ status: 403, code: 'endpoint_refused' });
    // Any other unknown path is the plain 404 it was.
    const res = await fetch(`${gateway.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${CALLER_KEY}` } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it("Azure OpenAI: vector stores, conversations and Sora 2 videos in the v1 API with the api-key header; video edits refused, naming the types that serve them", async () => {
    const client = on('az-knowledge');
    const before = records().length;
    const vs = await client.vectorStores.create({ name: 'az', file_ids: ['file-a'] });
    expect(last(azure)?.url).toBe('/v1/vector_stores');
    expect(last(azure)?.headers['api-key']).toBe('az-key');
    await client.vectorStores.search(vs.id, { query: 'q' });
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.0025, 10);
    const conv = await client.conversations.create({});
    expect(conv.object).toBe('conversation');
    // Azure's v1 API names the deployment as the model (before, the target's model went: not a deployment there).
    const video = await on('az-video').videos.create({ model: 'sora-2-pro', prompt: 'az cat', seconds: '4' });
    expect(last(azure)?.form?.get('model')).toBe(AZURE.deployment);
    expect(video).toMatchObject({ model: AZURE.deployment, seconds: '4' });
    expect(records().length).toBe(before + 2);
    expect(records().at(-1)?.costUsd).toBeCloseTo(0.4, 10);
    expect(azure.problems).toEqual([]);
    // A fine-tuning job names the base model it trains, the target's model, not the deployment (before, the deployment went).
    azure.files.set('file-az-train', Buffer.from('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'));
    const job = await on('az-ft').fineTuning.jobs.create({ model: 'az-ft', training_file: 'file-az-train' });
    expect(JSON.parse(last(azure)?.body.toString() ?? '{}')).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', training_file: 'file-az-train' });
    expect(job).toMatchObject({ object: 'fine_tuning.job', model: 'gpt-4o-mini-2024-07-18' });
    expect(azure.problems).toEqual([]);
    await expect(on('az-video').videos.edit({ prompt: 'x', video: { id: video.id } })).rejects.toMatchObject({ status: 400, code: 'endpoint_not_supported', message: expect.stringContaining('openai') });
  });

  it('the upstream saw nothing unexpected', () => {
    expect(upstream.problems).toEqual([]);
  });
});
