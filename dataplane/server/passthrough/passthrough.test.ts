import { describe, expect, it } from 'vitest';
import { compile } from '../../../operator/compile/compile.js';
import { ModelRouteSpecSchema } from '../../../operator/api/model-route.js';
import { provider, route } from '../../../test/support/objects.js';
import { azurePathForwarding } from '../../providers/azure-openai/azure-paths.js';
import { openAiPathForwarding } from '../../providers/shared/openai-paths.js';
import type { AdapterTarget } from '../../providers/types.js';
import { unitCostUsd } from '../../metering/cost.js';
import { createsUpstream, passThroughPath } from './passthrough-paths.js';
import { answerUnits, EDIT_INPUT_IMAGE_TOKENS, lostImageUsage, MAX_EDIT_INPUT_IMAGES, passThroughUsage, promptTokensOf, requestUnits } from './passthrough-usage.js';
import { IMAGE_TOKENS, type PromptParts } from '../../metering/token-estimate.js';
import { passThroughRoute } from './passthrough-route.js';
import { buildRuntimeSnapshot } from '../../runtime/runtime-snapshot.js';
import { ANONYMOUS, type Caller } from '../../core/caller.js';
import { GatewayError } from '../../core/gateway-error.js';
import { passThroughEndpointsOf, SUPPORTED_PROVIDER_TYPES } from '../../config/snapshot.js';
import { PASS_THROUGH_ENDPOINTS } from '../../config/pass-through-endpoints.js';
import { typesForwarding } from '../../providers/registry.js';

describe('pass-through paths', () => {
  it('maps each public path to its endpoint and its upstream path', () => {
    expect(passThroughPath('/v1/images/edits')).toEqual({ endpoint: 'images', route: '/v1/images/edits' });
    expect(passThroughPath('/v1/audio/speech')?.endpoint).toBe('audio');
    expect(passThroughPath('/v1/files/file-1/content')?.endpoint).toBe('files');
    expect(passThroughPath('/v1/batches/b1/cancel')?.endpoint).toBe('batches');
    expect(passThroughPath('/v1/moderations')?.endpoint).toBe('moderations');
    expect(passThroughPath('/tokenize')).toEqual({ endpoint: 'tokenize', route: '/tokenize' });
    expect(passThroughPath('/v1/responses/resp_1/input_items')).toEqual({ endpoint: 'responses', route: '/v1/responses/{id}/input_items' });
    // http.route names ids as {id}: one value per file or batch would be a series each in spans-to-metrics.
    expect(passThroughPath('/v1/files/file-1/content')?.route).toBe('/v1/files/{id}/content');
    expect(passThroughPath('/v1/files/file-1')?.route).toBe('/v1/files/{id}');
    expect(passThroughPath('/v1/files')?.route).toBe('/v1/files');
    expect(passThroughPath('/v1/batches/b1/cancel')?.route).toBe('/v1/batches/{id}/cancel');
    expect(passThroughPath('/v1/responses/resp_1')?.route).toBe('/v1/responses/{id}');
    expect(passThroughPath('/v1/responses')).toBeUndefined();
    // Compaction and input token counting are paths of their own, not stored responses' ids.
    expect(passThroughPath('/v1/responses/compact')).toEqual({ endpoint: 'responses', route: '/v1/responses/compact' });
    expect(passThroughPath('/v1/responses/input_tokens')?.route).toBe('/v1/responses/input_tokens');
    for (const other of ['/v1/chat/completions', '/v1/files/a/b/c', '/v1/images', '/v1/audio/other', '/v2/rerank']) expect(passThroughPath(other)).toBeUndefined();
  });

  it('an id is one id, never a way out of the endpoint: dot segments, backslashes and escapes are no pass-through path', () => {
    // The upstream URL is made by the URL parser, which reads a backslash as "/" and %2e%2e as "..":
    // before, each of these went upstream with the Provider's key as another path of its API.
    const escapes = [
      '/v1/files/..\\chat\\completions',
      '/v1/files/..\\..\\v1\\fine_tuning\\jobs',
      '/v1/files/%2e%2e',
      '/v1/files/%2E%2e/content',
      '/v1/files/.',
      '/v1/files/..',
      '/v1/batches/..%5Cchat%5Ccompletions/cancel',
      '/v1/batches/%2f..%2fmodels',
      '/v1/responses/..\\models\\ft-model',
      '/v1/responses/..%2Fdeployments%2Fother/cancel',
      `/v1/files/${'a'.repeat(257)}`,
    ];
    for (const path of escapes) expect(passThroughPath(path), path).toBeUndefined();
    // Ids as the providers write them still are.
    for (const id of ['file-AbC123', 'batch_6789abc-def', 'resp_0123456789abcdef', 'file-...', 'assistant:1~x=y+z@w', 'a'.repeat(256)]) {
      expect(passThroughPath(`/v1/files/${id}/content`)?.route, id).toBe('/v1/files/{id}/content');
    }
    const at: AdapterTarget = { baseUrl: 'https://api.example.com/v1', model: 'm', apiKey: 'sk', headers: {} };
    // What the forwarding would have made of the first one: a path the route does not enable.
    expect(openAiPathForwarding.url(escapes[0] as string, new URLSearchParams(), at)?.pathname).toBe('/v1/chat/completions');
  });

  it("maps the account's objects to endpoints of their own, every id an {id} of the route", () => {
    const routes: [string, string, string][] = [
      ['/v1/vector_stores', 'vector_stores', '/v1/vector_stores'],
      ['/v1/vector_stores/vs_1/search', 'vector_stores', '/v1/vector_stores/{id}/search'],
      ['/v1/vector_stores/vs_1/files/file-1/content', 'vector_stores', '/v1/vector_stores/{id}/files/{id}/content'],
      ['/v1/vector_stores/vs_1/file_batches/vsfb_1/files', 'vector_stores', '/v1/vector_stores/{id}/file_batches/{id}/files'],
      ['/v1/vector_stores/vs_1/file_batches/vsfb_1/cancel', 'vector_stores', '/v1/vector_stores/{id}/file_batches/{id}/cancel'],
      ['/v1/uploads', 'uploads', '/v1/uploads'],
      ['/v1/uploads/upload_1/parts', 'uploads', '/v1/uploads/{id}/parts'],
      ['/v1/uploads/upload_1/complete', 'uploads', '/v1/uploads/{id}/complete'],
      ['/v1/conversations/conv_1/items/msg_1', 'conversations', '/v1/conversations/{id}/items/{id}'],
      ['/v1/videos', 'videos', '/v1/videos'],
      ['/v1/videos/video_1/content', 'videos', '/v1/videos/{id}/content'],
      ['/v1/videos/video_1/remix', 'videos', '/v1/videos/{id}/remix'],
      ['/v1/videos/edits', 'videos', '/v1/videos/edits'],
      ['/v1/videos/characters/char_1', 'videos', '/v1/videos/characters/{id}'],
      ['/v1/containers/cntr_1/files/cfile_1/content', 'containers', '/v1/containers/{id}/files/{id}/content'],
      ['/v1/fine_tuning/jobs/ftjob-1/checkpoints', 'fine_tuning', '/v1/fine_tuning/jobs/{id}/checkpoints'],
      ['/v1/evals/eval_1/runs/run_1/output_items/oi_1', 'evals', '/v1/evals/{id}/runs/{id}/output_items/{id}'],
    ];
    for (const [path, endpoint, route] of routes) expect(passThroughPath(path), path).toEqual({ endpoint, route });
    // Checkpoint permissions (an admin key's work) and graders are not fine-tuning jobs; nothing deeper than the API's paths.
    for (const other of ['/v1/fine_tuning/checkpoints/ck/permissions', '/v1/fine_tuning/alpha/graders/run', '/v1/uploads/u1', '/v1/vector_stores/vs_1/other', '/v1/videos/v1/content/x']) {
      expect(passThroughPath(other), other).toBeUndefined();
    }
  });

  it('fails over only what makes nothing twice: a vector store search, a job cancelled, paused or resumed; not a store, an upload or a video made', () => {
    for (const repeatable of ['/v1/vector_stores/vs_1/search', '/v1/fine_tuning/jobs/ftjob-1/pause', '/v1/fine_tuning/jobs/ftjob-1/resume', '/v1/uploads/u1/cancel']) {
      expect(createsUpstream('POST', repeatable), repeatable).toBe(false);
    }
    for (const creates of ['/v1/vector_stores', '/v1/vector_stores/vs_1/files', '/v1/uploads/u1/parts', '/v1/uploads/u1/complete', '/v1/videos', '/v1/videos/v1/remix', '/v1/conversations', '/v1/fine_tuning/jobs', '/v1/evals/e1/runs']) {
      expect(createsUpstream('POST', creates), creates).toBe(true);
    }
  });

  it('OpenAI-shaped upstreams: under the base URL, vLLM root paths at its origin, the query kept with the target model, Realtime over ws(s), a Bearer key', () => {
    const at = (baseUrl: string): AdapterTarget => ({ baseUrl, model: 'gpt-image-1', apiKey: 'sk-up', headers: { 'x-extra': '1' } });
    const url = (path: string, query: string, baseUrl: string): string | undefined => openAiPathForwarding.url(path, new URLSearchParams(query), at(baseUrl))?.toString();
    expect(url('/v1/files', 'limit=2', 'https://api.example.com/v1/')).toBe('https://api.example.com/v1/files?limit=2');
    expect(url('/tokenize', '', 'http://vllm:8000/v1')).toBe('http://vllm:8000/tokenize');
    expect(url('/v1/realtime', 'model=voice&foo=1', 'https://api.openai.com/v1')).toBe('wss://api.openai.com/v1/realtime?model=gpt-image-1&foo=1');
    expect(url('/v1/realtime', 'call_id=c1', 'http://vllm:8000/v1/')).toBe('ws://vllm:8000/v1/realtime?call_id=c1');
    // A route chosen by the x-tollgate-model header (or the only Realtime route): the query names no model, the upstream still needs it.
    expect(url('/v1/realtime', '', 'https://api.openai.com/v1')).toBe('wss://api.openai.com/v1/realtime?model=gpt-image-1');
    expect(url('/v1/files', '', 'https://api.openai.com/v1')).toBe('https://api.openai.com/v1/files');
    expect(openAiPathForwarding.headers(at('x'))).toEqual({ 'x-extra': '1', authorization: 'Bearer sk-up' });
  });

  it('Azure OpenAI: deployment paths for images and audio, resource paths for files and batches, api-version always, Realtime with the deployment; api-key; no moderations or vLLM paths', () => {
    const at: AdapterTarget = { baseUrl: 'https://res.openai.azure.com/', model: 'gpt-image-1', apiKey: 'az-key', headers: {}, settings: { azure: { deployment: 'img prod', apiVersion: '2025-04-01-preview', auth: 'api-key' } } };
    const url = (path: string, query = ''): string | undefined => azurePathForwarding.url(path, new URLSearchParams(query), at)?.toString();
    expect(url('/v1/images/generations')).toBe('https://res.openai.azure.com/openai/deployments/img%20prod/images/generations?api-version=2025-04-01-preview');
    expect(url('/v1/audio/transcriptions', 'model=whisper')).toBe('https://res.openai.azure.com/openai/deployments/img%20prod/audio/transcriptions?api-version=2025-04-01-preview');
    expect(url('/v1/files/file-1/content', 'api-version=old')).toBe('https://res.openai.azure.com/openai/files/file-1/content?api-version=2025-04-01-preview');
    expect(url('/v1/batches', 'limit=3')).toBe('https://res.openai.azure.com/openai/batches?limit=3&api-version=2025-04-01-preview');
    expect(url('/v1/realtime', 'model=voice')).toBe('wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=img+prod');
    expect(url('/v1/responses/resp_1', 'include=x')).toBe('https://res.openai.azure.com/openai/v1/responses/resp_1?include=x');
    for (const none of ['/v1/moderations', '/v1/rerank', '/tokenize', '/v1/images/variations']) expect(url(none)).toBeUndefined();
    expect(azurePathForwarding.headers(at)).toEqual({ 'api-key': 'az-key' });
  });

  it("Azure OpenAI: the account's objects in the v1 API (no api-version); Sora 2 videos generated and remixed, not edited, extended or characters", () => {
    const at: AdapterTarget = { baseUrl: 'https://res.openai.azure.com', model: 'sora-2', apiKey: 'az-key', headers: {}, settings: { azure: { apiVersion: '2025-04-01-preview', auth: 'api-key' } } };
    const url = (path: string, query = ''): string | undefined => azurePathForwarding.url(path, new URLSearchParams(query), at)?.toString();
    expect(url('/v1/vector_stores/vs_1/search')).toBe('https://res.openai.azure.com/openai/v1/vector_stores/vs_1/search');
    expect(url('/v1/vector_stores', 'limit=2&api-version=x')).toBe('https://res.openai.azure.com/openai/v1/vector_stores?limit=2');
    expect(url('/v1/uploads/u1/parts')).toBe('https://res.openai.azure.com/openai/v1/uploads/u1/parts');
    expect(url('/v1/conversations/c1/items')).toBe('https://res.openai.azure.com/openai/v1/conversations/c1/items');
    expect(url('/v1/containers')).toBe('https://res.openai.azure.com/openai/v1/containers');
    expect(url('/v1/fine_tuning/jobs/ftjob-1/events')).toBe('https://res.openai.azure.com/openai/v1/fine_tuning/jobs/ftjob-1/events');
    expect(url('/v1/evals/e1/runs')).toBe('https://res.openai.azure.com/openai/v1/evals/e1/runs');
    expect(url('/v1/videos')).toBe('https://res.openai.azure.com/openai/v1/videos');
    expect(url('/v1/videos/video_1/content', 'variant=thumbnail')).toBe('https://res.openai.azure.com/openai/v1/videos/video_1/content?variant=thumbnail');
    expect(url('/v1/videos/video_1/remix')).toBe('https://res.openai.azure.com/openai/v1/videos/video_1/remix');
    for (const none of ['/v1/videos/edits', '/v1/videos/extensions', '/v1/videos/characters', '/v1/videos/characters/ch_1']) expect(url(none), none).toBeUndefined();
    // A body's model in the v1 API is the deployment (a video's form, a compaction); the deployment paths keep the target's.
    const deployed: AdapterTarget = { ...at, settings: { azure: { deployment: 'sora-prod', apiVersion: '2025-04-01-preview', auth: 'api-key' } } };
    expect(azurePathForwarding.bodyModel?.('/v1/videos', deployed)).toBe('sora-prod');
    expect(azurePathForwarding.bodyModel?.('/v1/responses/compact', deployed)).toBe('sora-prod');
    expect(azurePathForwarding.bodyModel?.('/v1/images/generations', deployed)).toBe('sora-2');
    expect(azurePathForwarding.bodyModel?.('/v1/videos', at)).toBe('sora-2');
  });
});

describe('pass-through usage', () => {
  it('reads token usage the way each endpoint reports it, and nothing when there is none', () => {
    expect(passThroughUsage({ usage: { input_tokens: 10, output_tokens: 100, total_tokens: 110 } })).toEqual({ inputTokens: 10, outputTokens: 100, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { prompt_tokens: 9, total_tokens: 9 } })).toEqual({ inputTokens: 9, outputTokens: 0, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { total_tokens: 12 } })).toEqual({ inputTokens: 12, outputTokens: 0, cachedInputTokens: 0 });
    // A total above input + output: the rest was billed as output (reasoning reported beside it), never dropped.
    expect(passThroughUsage({ usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 40 } })).toEqual({ inputTokens: 10, outputTokens: 30, cachedInputTokens: 0 });
    expect(passThroughUsage({ usage: { type: 'duration', seconds: 3 } })).toBeUndefined();
    expect(passThroughUsage({ results: [] })).toBeUndefined();
    expect(passThroughUsage('not json')).toBeUndefined();
  });

  it("a compaction's prompt estimate counts what the upstream bills as input: images by reference, named files, the output schema, a stored prompt's variables", () => {
    const text = { role: 'user', content: [{ type: 'input_text', text: 'describe these' }] };
    const base = promptTokensOf({ model: 'm', input: [text] });
    expect(base).toBeGreaterThan(0);
    // An image by URL or by file_id is billed as an image, not as the bytes of its reference.
    const byUrl = promptTokensOf({ model: 'm', input: [{ role: 'user', content: [...text.content, { type: 'input_image', image_url: 'https://x.test/cat.png' }] }] });
    expect(byUrl - base).toBeGreaterThanOrEqual(IMAGE_TOKENS.other);
    const byFileId = promptTokensOf({ model: 'm', input: [{ role: 'user', content: [...text.content, { type: 'input_image', file_id: 'file-abc' }] }] });
    expect(byFileId - base).toBeGreaterThanOrEqual(IMAGE_TOKENS.other);
    // A file named, not carried (by id or URL): told apart, for Budgets to hold at UNREAD_FILE_TOKENS each.
    const told: PromptParts = { tokens: 0 };
    promptTokensOf({ model: 'm', input: [{ role: 'user', content: [...text.content, { type: 'input_file', file_id: 'file-pdf' }, { type: 'input_file', file_url: 'https://x.test/a.pdf' }] }] }, told);
    expect(told.media?.files).toBe(2);
    // Inline file data counts as its text.
    const data = `data:application/pdf;base64,${'A'.repeat(40_000)}`;
    expect(promptTokensOf({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.pdf', file_data: data }] }] })).toBeGreaterThanOrEqual(10_000);
    // The structured output schema, tool_choice, instructions, tools.
    const schema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`field_${i}`, { type: 'string', description: 'a field of the answer' }])) };
    const withSchema = promptTokensOf({ model: 'm', input: [text], text: { format: { type: 'json_schema', name: 'out', schema } } });
    expect(withSchema - base).toBeGreaterThanOrEqual(Math.floor(JSON.stringify(schema).length / 4));
    expect(promptTokensOf({ model: 'm', input: [text], instructions: 'x'.repeat(400) }) - base).toBeGreaterThanOrEqual(100);
    // A stored prompt's variables are substituted into it.
    expect(promptTokensOf({ model: 'm', prompt: { id: 'pmpt_1', variables: { doc: 'y'.repeat(4000), pic: { type: 'input_image', image_url: 'https://x.test/a.png' } } } })).toBeGreaterThanOrEqual(1000 + IMAGE_TOKENS.other);
    // Each input item is framed (3 tokens), as the chat estimate frames each message.
    expect(promptTokensOf({ model: 'm', input: [text, text] }) - base).toBeGreaterThanOrEqual(3);
    expect(promptTokensOf({ model: 'm', input: 'hello' })).toBeGreaterThan(0);
    expect(promptTokensOf('nope')).toBe(0);
  });

  it('an images request whose answer never came may have been billed, at most, its images by size and quality (gpt-image)', () => {
    // OpenAI's documented gpt-image-1 counts (low 272, medium 1,056, high 4,160 a square image; high 6,240 at 1024x1536) are below it.
    const out = (body: object): number | undefined => lostImageUsage('/v1/images/generations', body)?.outputTokens;
    expect(out({ prompt: 'p', size: '1024x1024', quality: 'low' })).toBeGreaterThanOrEqual(272);
    expect(out({ prompt: 'p', size: '1024x1024', quality: 'medium' })).toBeGreaterThanOrEqual(1056);
    expect(out({ prompt: 'p', size: '1024x1024', quality: 'high' })).toBeGreaterThanOrEqual(7024);
    expect(out({ prompt: 'p', size: '1024x1536', quality: 'high' })).toBeGreaterThanOrEqual(6240);
    // auto and unsaid are high at the largest default size; n multiplies; partial images add 100 each.
    expect(out({ prompt: 'p' })).toBeGreaterThanOrEqual(6240);
    expect(out({ prompt: 'p', quality: 'auto', size: 'auto', n: 3 })).toBe(3 * (out({ prompt: 'p' }) ?? 0));
    expect(out({ prompt: 'p', size: '1024x1024', quality: 'low', partial_images: 2 })).toBe((out({ prompt: 'p', size: '1024x1024', quality: 'low' }) ?? 0) + 200);
    const usage = lostImageUsage('/v1/images/generations', { prompt: 'a cat on a mat', size: '1024x1024', quality: 'low' });
    expect(usage).toMatchObject({ inputTokens: 4, cachedInputTokens: 0 });
    expect(usage?.imageOutputTokens).toBe(usage?.outputTokens);
    // An edit's form is not read: one high image of the auto size.
    expect(lostImageUsage('/v1/images/edits', undefined)?.outputTokens).toBe(out({ prompt: 'p' }));
    // Its input images, as image input: before its form streamed, the most an edit takes (16 and a mask); after, those it carried; a JSON edit's `images` and mask.
    expect(lostImageUsage('/v1/images/edits', undefined)).toMatchObject({ inputTokens: MAX_EDIT_INPUT_IMAGES * EDIT_INPUT_IMAGE_TOKENS, imageInputTokens: MAX_EDIT_INPUT_IMAGES * EDIT_INPUT_IMAGE_TOKENS });
    expect(lostImageUsage('/v1/images/edits', undefined, 2)).toMatchObject({ inputTokens: 2 * EDIT_INPUT_IMAGE_TOKENS, imageInputTokens: 2 * EDIT_INPUT_IMAGE_TOKENS });
    expect(lostImageUsage('/v1/images/edits', { prompt: 'abcd', images: [{ image_url: 'https://x.test/a.png' }, { file_id: 'file-1' }], mask: { file_id: 'file-2' } })).toMatchObject({ inputTokens: 1 + 3 * EDIT_INPUT_IMAGE_TOKENS, imageInputTokens: 3 * EDIT_INPUT_IMAGE_TOKENS });
    // OpenAI's high-fidelity input image (6,240 more at 1024×1536, besides its low-fidelity tiles) is under the bound.
    expect(EDIT_INPUT_IMAGE_TOKENS).toBeGreaterThanOrEqual(6240 + 65 + 2 * 129);
    // A generation has no input images.
    expect(lostImageUsage('/v1/images/generations', { prompt: 'abcd' })?.imageInputTokens).toBeUndefined();
    expect(lostImageUsage('/v1/audio/speech', { input: 'x' })).toBeUndefined();
  });

  it('prices what the price table prices per request, image, second of audio and character of speech', () => {
    expect(answerUnits('/v1/images/generations', { prompt: 'x' }, { data: [{}, {}, {}] })).toEqual({ requests: 1, images: 3, audioSeconds: 0, characters: 0 });
    expect(answerUnits('/v1/audio/transcriptions', undefined, { text: 'hi', usage: { type: 'duration', seconds: 42 } }).audioSeconds).toBe(42);
    expect(answerUnits('/v1/audio/translations', undefined, { text: 'hi', duration: 7.5 }).audioSeconds).toBe(7.5);
    expect(answerUnits('/v1/audio/speech', { input: 'héllo' }, undefined).characters).toBe(5);
    // A negative duration priced as it was credited the Budgets: it is none.
    expect(answerUnits('/v1/audio/transcriptions', undefined, { text: 'hi', usage: { type: 'duration', seconds: -3600 } }).audioSeconds).toBe(0);
    expect(answerUnits('/v1/audio/translations', undefined, { text: 'hi', duration: -7.5 }).audioSeconds).toBe(0);
    const pricing = { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perRequestUsd: 0.001, perImageUsd: 0.04, perAudioSecondUsd: 0.0001, perMCharactersUsd: 15 };
    expect(unitCostUsd({ requests: 1, images: 3, audioSeconds: 0, characters: 0 }, pricing)).toBe(0.121);
    expect(unitCostUsd({ requests: 1, images: 0, audioSeconds: 60, characters: 1000 }, pricing)).toBe(0.001 + 0.006 + 0.015);
    expect(unitCostUsd({ requests: 1, images: 3, audioSeconds: 60, characters: 9 }, { inputPerMTok: 1, outputPerMTok: 1, cachedInputPerMTok: 1 })).toBe(0);
  });

  it('prices a vector store search at the file search price, and a video made by the seconds its answer reports (asked: its JSON seconds, else the longest clip)', () => {
    expect(answerUnits('/v1/vector_stores/vs_1/search', { query: 'q' }, { object: 'vector_store.search_results.page', data: [] }).fileSearches).toBe(1);
    expect(answerUnits('/v1/vector_stores/vs_1', undefined, { id: 'vs_1' }, undefined, 'GET').fileSearches).toBeUndefined();
    const video = { id: 'video_1', object: 'video', model: 'sora-2', status: 'queued', seconds: '8', size: '720x1280' };
    expect(answerUnits('/v1/videos', undefined, video).videoSeconds).toBe(8);
    expect(answerUnits('/v1/videos/video_1/remix', { prompt: 'p' }, video).videoSeconds).toBe(8);
    expect(answerUnits('/v1/videos/extensions', undefined, { ...video, seconds: 12 }).videoSeconds).toBe(12);
    // A retrieval or a list shows a video made before: not charged again.
    expect(answerUnits('/v1/videos/video_1', undefined, video, undefined, 'GET').videoSeconds).toBeUndefined();
    expect(answerUnits('/v1/videos', undefined, { object: 'list', data: [video] }, undefined, 'GET').videoSeconds).toBeUndefined();
    expect(answerUnits('/v1/videos', undefined, { ...video, seconds: '-4' }).videoSeconds).toBeUndefined();
    // Held at admission: a JSON body's seconds; a form's are not read (nor a remix's source): 12.
    expect(requestUnits('/v1/videos', { prompt: 'p', seconds: '4' }).videoSeconds).toBe(4);
    expect(requestUnits('/v1/videos', undefined, 1000).videoSeconds).toBe(12);
    expect(requestUnits('/v1/videos/video_1/remix', { prompt: 'p' }).videoSeconds).toBe(12);
    expect(requestUnits('/v1/videos', undefined, 0, 'GET').videoSeconds).toBeUndefined();
    // A container made is a session of its memory (the request's or the answer's, the larger); reading one is not.
    expect(answerUnits('/v1/containers', { name: 'c', memory_limit: '4g' }, { id: 'cntr_1', object: 'container', memory_limit: '4g' }).containerGb).toBe(4);
    expect(answerUnits('/v1/containers', { name: 'c' }, { id: 'cntr_1', object: 'container' }).containerGb).toBe(1);
    expect(requestUnits('/v1/containers', { name: 'c', memory_limit: '64g' }).containerGb).toBe(64);
    expect(answerUnits('/v1/containers', undefined, { object: 'list', data: [] }, undefined, 'GET').containerGb).toBeUndefined();
    expect(answerUnits('/v1/containers/cntr_1/files', undefined, { id: 'cfile_1' }).containerGb).toBeUndefined();
    expect(unitCostUsd({ requests: 1, images: 0, audioSeconds: 0, characters: 0, containerGb: 4 }, { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perContainerUsd: 0.03 })).toBe(0.12);
    const pricing = { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perFileSearchUsd: 0.0025, perVideoSecondUsd: 0.1 };
    expect(unitCostUsd({ requests: 1, images: 0, audioSeconds: 0, characters: 0, fileSearches: 1 }, pricing)).toBe(0.0025);
    expect(unitCostUsd({ requests: 1, images: 0, audioSeconds: 0, characters: 0, videoSeconds: 8 }, pricing)).toBe(0.8);
  });
});

describe('ModelRoute passThrough', () => {
  const openai = provider('openai', { type: 'openai' });
  it('compiles endpoints (deduplicated, sorted), the upload limit and the realtime limits with defaults', () => {
    const r = route('media', { model: 'm', targets: [{ providerRef: { name: 'openai' }, model: 'x' }], passThrough: { endpoints: ['images', 'audio', 'images'], realtime: { idleTimeout: '30s' } } });
    const { snapshot } = compile({ providers: [openai], routes: [r], budgets: [], secrets: [] });
    expect(snapshot.routes[0]?.passThrough).toEqual({ endpoints: ['audio', 'images'], maxUploadBytes: 25 * 1024 * 1024, realtime: { maxConnections: 100, idleTimeoutMs: 30_000, maxConnectionsPerCaller: 25, maxDurationMs: 3_600_000 } });
    // A caller's share defaults to a quarter of the route's connections, and is never more than them.
    const shared = (realtime: Record<string, unknown>) =>
      compile({ providers: [openai], routes: [route('rt', { model: 'rt', targets: [{ providerRef: { name: 'openai' }, model: 'x' }], passThrough: { endpoints: ['realtime'], realtime } })], budgets: [], secrets: [] }).snapshot.routes[0]?.passThrough?.realtime;
    expect(shared({ maxConnections: 2 })).toMatchObject({ maxConnections: 2, maxConnectionsPerCaller: 1 });
    expect(shared({ maxConnections: 10, maxConnectionsPerCaller: 50, maxDuration: '90s' })).toMatchObject({ maxConnectionsPerCaller: 10, maxDurationMs: 90_000 });
    const plain = compile({ providers: [openai], routes: [route('chat', { model: 'c', targets: [{ providerRef: { name: 'openai' }, model: 'x' }] })], budgets: [], secrets: [] });
    expect(plain.snapshot.routes[0]?.passThrough).toBeUndefined();
  });

  it('refuses unknown endpoints and out-of-range limits', () => {
    const base = { model: 'm', targets: [{ providerRef: { name: 'openai' }, model: 'x' }] };
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['chat'] } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: [] } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['files'], maxUploadBytes: 10 } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['realtime'], realtime: { maxConnections: 0 } } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['realtime'], realtime: { maxConnectionsPerCaller: 0 } } }).success).toBe(false);
    expect(ModelRouteSpecSchema.safeParse({ ...base, passThrough: { endpoints: ['realtime'], realtime: { maxDuration: '0s' } } }).success).toBe(false);
  });
});

describe('pass-through residency', () => {
  // Compiled as the operator does: namespace finance requires providers labelled approved=true, and
  // only the platform's labels count. finance's own Provider labelled itself approved.
  const media = (name: string, targets: { providerRef: { name: string; namespace?: string }; model: string; priority: number }[]) =>
    route(name, { model: name, targets, access: { anonymous: true, namespaces: { from: 'All' } }, passThrough: { endpoints: ['images', 'realtime'] } }, { namespace: 'finance' });
  const own = { providerRef: { name: 'own' }, model: 'gpt-image-1', priority: 0 };
  const approved = { providerRef: { name: 'approved', namespace: 'tollgate-system' }, model: 'gpt-image-1', priority: 1 };
  const { snapshot } = compile({
    providers: [
      provider('approved', { type: 'openai-compatible', url: 'http://127.0.0.1:9/v1', allowedRoutes: { namespaces: { from: 'All' } } }, { namespace: 'tollgate-system', labels: { approved: 'true' } }),
      provider('own', { type: 'openai-compatible', url: 'http://127.0.0.1:8/v1' }, { namespace: 'finance', labels: { approved: 'true' } }),
    ],
    routes: [media('media', [own, approved]), media('own-media', [own])],
    budgets: [],
    secrets: [],
    namespaces: [{ name: 'finance', labels: { 'require.tollgate.dev/approved': 'true' } }],
    platformNamespaces: ['tollgate-system'],
  });
  const built = buildRuntimeSnapshot(snapshot, { send: () => Promise.reject(new Error('nothing is sent')) });
  if (!built.ok) throw new Error(built.error);
  const runtime = built.runtime;
  const finance: Caller = { kind: 'serviceaccount', namespace: 'finance', name: 'ledger', id: 'sa:finance/ledger' };
  const marketing: Caller = { kind: 'serviceaccount', namespace: 'marketing', name: 'web', id: 'sa:marketing/web' };
  const pick = (caller: Caller, model: string, endpoint: 'images' | 'realtime' = 'images') =>
    passThroughRoute(runtime, caller, () => undefined, endpoint, model, true, endpoint === 'images' ? '/v1/images/generations' : '/v1/realtime').targets.map((t) => t.provider.config.id);
  const refusal = (caller: Caller, model: string, endpoint: 'images' | 'realtime' = 'images'): GatewayError => {
    try {
      pick(caller, model, endpoint);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('not refused');
  };

  it("keeps a regulated caller, and an anonymous one on the regulated namespace's route, to allowed targets", () => {
    // Before, pass-through (and Realtime) tried every target of the route, whatever residency required.
    for (const caller of [finance, ANONYMOUS]) {
      expect(pick(caller, 'media')).toEqual(['tollgate-system/approved']);
      expect(pick(caller, 'media', 'realtime')).toEqual(['tollgate-system/approved']);
      const e = refusal(caller, 'own-media');
      expect(e.status).toBe(403);
      expect(e.code).toBe('residency_denied');
      expect(e.message).toBe('endpoint images on route finance/own-media (model own-media): no target that serves it is allowed for this caller; policy: namespace finance requires providers labelled approved=true');
      expect(refusal(caller, 'own-media', 'realtime').code).toBe('residency_denied');
    }
    // A caller from a namespace without requirements may use every target.
    expect(pick(marketing, 'media')).toEqual(['finance/own', 'tollgate-system/approved']);
  });
});

describe('what each Provider type declares it forwards (the operator reads it)', () => {
  it("matches the registry's forwarding: a path of every declared endpoint is served, and a type that declares none forwards none", () => {
    const sample: Record<string, string> = {
      images: '/v1/images/generations',
      audio: '/v1/audio/speech',
      files: '/v1/files',
      batches: '/v1/batches',
      moderations: '/v1/moderations',
      rerank: '/v1/rerank',
      score: '/v1/score',
      tokenize: '/tokenize',
      realtime: '/v1/realtime',
      responses: '/v1/responses/r1',
      vector_stores: '/v1/vector_stores/vs_1/search',
      uploads: '/v1/uploads/upload_1/parts',
      conversations: '/v1/conversations/conv_1/items',
      videos: '/v1/videos',
      containers: '/v1/containers/cntr_1/files',
      fine_tuning: '/v1/fine_tuning/jobs/ftjob-1/events',
      evals: '/v1/evals/eval_1/runs',
    };
    for (const type of SUPPORTED_PROVIDER_TYPES) {
      const declared = passThroughEndpointsOf(type);
      for (const endpoint of PASS_THROUGH_ENDPOINTS) {
        expect(typesForwarding(sample[endpoint] ?? '').includes(type), `${type} ${endpoint}`).toBe(declared.includes(endpoint) || (type === 'openai' && ['rerank', 'score', 'tokenize'].includes(endpoint)));
      }
    }
  });
});

describe('pass-through route without a model named', () => {
  // An Anthropic route and an Azure route that list endpoints their targets cannot forward, beside
  // the one route that can: header-less calls go to that one.
  const open = { anonymous: true, namespaces: { from: 'All' as const } };
  const { snapshot } = compile({
    providers: [
      provider('oa', { type: 'openai', url: 'http://127.0.0.1:9/v1' }),
      provider('claude', { type: 'anthropic', url: 'http://127.0.0.1:8' }),
      provider('az', { type: 'azure-openai', url: 'http://127.0.0.1:7', azure: {} }),
    ],
    routes: [
      route('files', { model: 'files', targets: [{ providerRef: { name: 'oa' }, model: 'gpt-4o-mini' }], access: open, passThrough: { endpoints: ['files', 'batches'] } }),
      route('claude', { model: 'claude', targets: [{ providerRef: { name: 'claude' }, model: 'claude-sonnet-4' }], access: open, passThrough: { endpoints: ['files', 'moderations'] } }),
      route('az', { model: 'az', targets: [{ providerRef: { name: 'az' }, model: 'dall-e-2' }], access: open, passThrough: { endpoints: ['images', 'moderations'] } }),
    ],
    budgets: [],
    secrets: [],
  });
  const built = buildRuntimeSnapshot(snapshot, { send: () => Promise.reject(new Error('nothing is sent')) });
  if (!built.ok) throw new Error(built.error);
  const runtime = built.runtime;
  const refusal = (model: string | undefined, endpoint: 'files' | 'moderations' | 'images', path: string): GatewayError => {
    try {
      passThroughRoute(runtime, ANONYMOUS, () => undefined, endpoint, model, false, path);
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('not refused');
  };

  it('goes to the one route whose targets can forward the endpoint, not to a route that only lists it', () => {
    // Before, the Anthropic route listing files made every header-less files call a 400 asking for x-tollgate-model.
    expect(passThroughRoute(runtime, ANONYMOUS, () => undefined, 'files', undefined, false, '/v1/files').route.id).toBe('default/files');
  });

  it('when no route that lists the endpoint can serve it, says so, naming the Provider types that serve that path', () => {
    const none = refusal(undefined, 'moderations', '/v1/moderations');
    expect(none.code).toBe('endpoint_not_supported');
    expect(none.message).toBe('the routes you may call that enable endpoint moderations (az, claude) have no target that can serve /v1/moderations (Provider types openai, openai-compatible, vllm)');
  });

  it("names the types that serve the path itself: an Azure route's image variations", () => {
    // Before, the message listed azure-openai among the types that serve it.
    const e = refusal('az', 'images', '/v1/images/variations');
    expect(e.message).toBe('route default/az has no target that can serve /v1/images/variations (endpoint images): pass-through needs a Provider that serves it (of type openai, openai-compatible, vllm) with an endpoint');
  });
});

describe("pass-through refusals name no other namespace's route", () => {
  // team-a's files route; team-b has none. Before, a team-b caller without a model was refused
  // naming team-a's route (the first route of any namespace that enables the endpoint).
  const { snapshot } = compile({
    providers: [provider('oa', { type: 'openai', url: 'http://127.0.0.1:9/v1' }, { namespace: 'team-a' })],
    routes: [route('secret-files', { model: 'secret-files', targets: [{ providerRef: { name: 'oa' }, model: 'gpt-4o-mini' }], passThrough: { endpoints: ['files'] } }, { namespace: 'team-a' })],
    budgets: [],
    secrets: [],
  });
  const built = buildRuntimeSnapshot(snapshot, { send: () => Promise.reject(new Error('nothing is sent')) });
  if (!built.ok) throw new Error(built.error);
  const runtime = built.runtime;
  const sa = (namespace: string): Caller => ({ kind: 'serviceaccount', namespace, name: 'app', id: `sa:${namespace}/app` });
  const refusal = (caller: Caller, model?: string): GatewayError => {
    try {
      passThroughRoute(runtime, caller, () => undefined, 'files', model, true, '/v1/files');
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('not refused');
  };

  it('another namespace gets 404 (no route it may call), an anonymous caller 401, both without the route; its own namespace the route', () => {
    const other = refusal(sa('team-b'));
    expect(other.status).toBe(404);
    expect(other.message).toBe('no route you may call enables endpoint files (spec.passThrough.endpoints)');
    const anonymous = refusal(ANONYMOUS);
    expect(anonymous.status).toBe(401);
    const named = refusal(sa('team-b'), 'secret-files');
    expect(named.status).toBe(403);
    for (const e of [other, anonymous, named]) expect(e.message).not.toContain('team-a');
    expect(passThroughRoute(runtime, sa('team-a'), () => undefined, 'files', undefined, true, '/v1/files').route.id).toBe('team-a/secret-files');
  });
});
