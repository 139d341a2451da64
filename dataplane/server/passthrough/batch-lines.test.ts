import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../config/snapshot.js';
import { testRoute } from '../../governance/rate-limit/test-support.js';
import { azurePathForwarding } from '../../providers/azure-openai/azure-paths.js';
import { openAiPathForwarding } from '../../providers/shared/openai-paths.js';
import { estimatePromptTokens } from '../../metering/token-estimate.js';
import { DEFAULT_OUTPUT_CAP } from '../../governance/admission.js';
import { splitLines } from './input-file.js';
import { batchInputFile } from './batch-admission.js';
import { BatchLines, type BatchTarget, MAX_BATCH_REQUESTS } from './batch-lines.js';

const target: TargetConfig = { providerId: 'team-a/openai', model: 'gpt-4o-mini', priority: 0, weight: 1, pricing: { inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 1 } };
const route = testRoute([], { targets: [target] });
const openai: BatchTarget = { target, forwarding: openAiPathForwarding, at: { baseUrl: 'http://openai/v1', model: 'gpt-4o-mini', headers: {} } };

const line = (model: string, extra: Record<string, unknown> = {}, url = '/v1/chat/completions'): string =>
  JSON.stringify({ custom_id: 'a', method: 'POST', url, body: { model, messages: [{ role: 'user', content: 'hello there' }], ...extra } });

function check(lines: readonly string[], targets: readonly BatchTarget[] = [openai], endpoint = '/v1/chat/completions'): BatchLines {
  const b = new BatchLines(route, targets, 'file-1', endpoint, 1000);
  lines.forEach((l, i) => b.add(l, i + 1));
  return b;
}

describe('BatchLines', () => {
  it('sums each request\'s prompt estimate and output cap (asked × n, else the route\'s cap) at the batch price', () => {
    const prompt = estimatePromptTokens(JSON.parse(line('gpt-4o-mini')).body);
    const result = check([line('gpt-4o-mini', { max_tokens: 100 }), line('gpt-4o-mini', { max_completion_tokens: 50, n: 2 }), '', line('gpt-4o-mini')]).result();
    const output = 100 + 100 + DEFAULT_OUTPUT_CAP;
    expect(result).toMatchObject({ requests: 3, usage: { inputTokens: 3 * prompt, outputTokens: output } });
    expect(result.costUsd).toBeCloseTo(((3 * prompt * 2 + output * 8) / 1e6) * 0.5, 8);
  });

  it('rounds the worst case up to 1e-8 USD, never down', () => {
    // One request of a model priced at 0.0001 USD per million tokens costs well under 1e-8: rounded
    // to the nearest, the batch was charged 0.
    const cheap: BatchTarget = { ...openai, target: { ...target, pricing: { inputPerMTok: 0.0001, outputPerMTok: 0.0001, cachedInputPerMTok: 0.0001 } } };
    const result = check([line('gpt-4o-mini', { max_tokens: 1 })], [cheap]).result();
    expect(result.costUsd).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThanOrEqual(((result.usage.inputTokens + result.usage.outputTokens) * 0.0001 * 0.5) / 1e6);
  });

  it("holds a file a line names by id at what its target's window leaves of the prompt (1,000,000 tokens without one)", () => {
    const file = { messages: [{ role: 'user', content: [{ type: 'text', text: 'sum up' }, { type: 'file', file: { file_id: 'file-abc' } }] }], max_tokens: 10 };
    const prompt = estimatePromptTokens({ model: 'gpt-4o-mini', ...file });
    // Before, the file counted as the bytes of its id only.
    expect(check([line('gpt-4o-mini', file)]).result().usage.inputTokens).toBe(prompt + 1_000_000);
    const windowed: BatchTarget = { ...openai, target: { ...target, contextWindow: 128_000 } };
    const result = check([line('gpt-4o-mini', file)], [windowed]).result();
    expect(result.usage.inputTokens).toBe(128_000);
    expect(result.costUsd).toBeCloseTo(((128_000 * 2 + 10 * 8) / 1e6) * 0.5, 8);
  });

  it('refuses a line naming a model the route does not run, a malformed line, another endpoint; names the line and field', () => {
    expect(() => check([line('gpt-4o-mini'), line('o3')])).toThrow(/line 2 of the batch's input file file-1: body\.model is "o3", which route team-a\/chat does not run: its batches name "gpt-4o-mini"/);
    expect(() => check(['{"custom_id":'])).toThrow(/line 1 .*: the line is not JSON/);
    expect(() => check([JSON.stringify({ url: '/v1/chat/completions' })])).toThrow(/line 1 .*: body is missing/);
    expect(() => check([JSON.stringify({ url: '/v1/chat/completions', body: {} })])).toThrow(/body\.model is missing/);
    expect(() => check([line('gpt-4o-mini', {}, '/v1/embeddings')])).toThrow(/url is "\/v1\/embeddings", not the batch's endpoint/);
    expect(() => check([line('gpt-4o-mini', {}, '/v1/moderations')], [openai], '/v1/moderations')).toThrow(/which route team-a\/chat does not serve/);
    expect(() => check([])).not.toThrow();
    expect(() => check([]).result()).toThrow(/has no requests/);
  });

  it(`refuses more than ${MAX_BATCH_REQUESTS} requests`, () => {
    const b = new BatchLines(route, [openai], 'file-1', '/v1/embeddings', 1000);
    const text = JSON.stringify({ url: '/v1/embeddings', body: { model: 'gpt-4o-mini', input: 'x' } });
    for (let i = 1; i <= MAX_BATCH_REQUESTS; i++) b.add(text, i);
    expect(() => b.add(text, MAX_BATCH_REQUESTS + 1)).toThrow(/more than 50000 requests/);
  });

  it('an Azure OpenAI target\'s batches name its deployment, and take Azure\'s /chat/completions', () => {
    const azure: BatchTarget = { target, forwarding: azurePathForwarding, at: { baseUrl: 'http://az', model: 'gpt-4o-mini', headers: {}, settings: { azure: { deployment: 'my-deployment', apiVersion: '2024-10-21', auth: 'api-key' } } } };
    expect(check([line('my-deployment', {}, '/chat/completions')], [azure]).result().requests).toBe(1);
    expect(() => check([line('gpt-4o-mini')], [azure])).toThrow(/its batches name "my-deployment"/);
  });
});

describe('splitLines', () => {
  const limits = { maxFileBytes: 10_000, maxLineBytes: 300, deadline: Date.now() + 10_000 };
  const chunks = (text: string, size: number): Readable => Readable.from(Array.from({ length: Math.ceil(text.length / size) }, (_, i) => Buffer.from(text.slice(i * size, (i + 1) * size))));

  it('hands every line to the check whatever the chunks (CRLF, no final newline)', async () => {
    for (const size of [1, 7, 1000]) {
      const b = new BatchLines(route, [openai], 'file-1', '/v1/chat/completions', 1000);
      await splitLines(chunks(`${line('gpt-4o-mini')}\r\n${line('gpt-4o-mini')}\n\n${line('gpt-4o-mini')}`, size), batchInputFile('file-1'), limits, b);
      expect(b.result().requests).toBe(3);
    }
  });

  it('refuses a line longer than a request body may be, and a file larger than the bound, with 413', async () => {
    const b = (): BatchLines => new BatchLines(route, [openai], 'file-1', '/v1/chat/completions', 1000);
    const long = line('gpt-4o-mini', { user: 'x'.repeat(400) });
    await expect(splitLines(chunks(`${line('gpt-4o-mini')}\n${long}\n`, 64), batchInputFile('file-1'), limits, b())).rejects.toMatchObject({ status: 413, message: expect.stringContaining('line 2 of the batch\'s input file file-1 is longer than 300 bytes') });
    await expect(splitLines(chunks(`${long}`, 1000), batchInputFile('file-1'), limits, b())).rejects.toMatchObject({ status: 413 });
    const many = `${line('gpt-4o-mini')}\n`.repeat(200);
    await expect(splitLines(chunks(many, 500), batchInputFile('file-1'), limits, b())).rejects.toMatchObject({ status: 413, code: 'batch_input_too_large', message: expect.stringContaining('larger than 10000 bytes') });
  });
});
