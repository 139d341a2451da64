import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

/**
 * An upstream is a tenant's endpoint as often as a provider's: what its stream says must not cost
 * the data plane (every tenant on the pod) more than the bytes it sent.
 */
let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;
const dir = mkdtempSync(join(tmpdir(), 'tollgate-hostile-'));

const manifests = (): Record<string, string> => ({
  'up.yaml': openAiProvider('up', upstream.baseUrl),
  'route.yaml': `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  retry: { attempts: 1 }
  targets: [{ providerRef: { name: up }, model: up-model }]
---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit }
spec:
  subjects: { routes: [{ name: chat }] }
  capture: { mode: Full, sampleRate: 1 }
  destinations: [{ name: disk, localDirectory: { path: "${join(dir, 'records')}" } }]
`,
});

const chunk = (choice: Record<string, unknown>) => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [choice] });
const toolCall = (index: number) => chunk({ index: 0, delta: { role: 'assistant', tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: 'lookup', arguments: '{}' } }] }, finish_reason: null });
const finish = chunk({ index: 0, delta: {}, finish_reason: 'tool_calls' });

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(manifests(), { capture: { flushIntervalMs: 20 } });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The stream's chunks as the client got them, and the error it ended with (if any). */
async function read(): Promise<{ chunks: OpenAI.Chat.Completions.ChatCompletionChunk[]; error: string | undefined }> {
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  try {
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const c of stream) chunks.push(c);
    return { chunks, error: undefined };
  } catch (err) {
    return { chunks, error: (err as Error).message };
  }
}

const records = (): string[] => {
  const root = join(dir, 'records', 'content');
  try {
    return readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(root, f), 'utf8').split('\n').filter((l) => l !== ''));
  } catch {
    return [];
  }
};

describe('an upstream stream naming huge indexes', () => {
  // Before: the capture record's JSON of a 100,000,001-long tool-call array (a hundred million
  // nulls) blocked the request thread for ~25 s and then V8 aborted the whole data plane.
  it('is ended with an error naming the index, and the data plane goes on serving', async () => {
    upstream.script({ kind: 'events', events: [toolCall(100_000_000), finish] });
    const hostile = await read();
    expect(hostile.error).toMatch(/tool call index 100000000; the gateway accepts integers 0 to 127/);
    upstream.script({ kind: 'events', events: [chunk({ index: 4096, delta: { content: 'x' }, finish_reason: null })] });
    expect((await read()).error).toMatch(/choice index 4096/);
    upstream.script({ kind: 'events', events: [chunk({ index: 0.5, delta: { content: 'x' }, finish_reason: null })] });
    expect((await read()).error).toMatch(/choice index 0.5/);

    // Indexes in bounds pass, and the record holds the assembled calls in order.
    upstream.script({ kind: 'events', events: [toolCall(3), toolCall(1), finish] });
    const fine = await read();
    expect(fine.error).toBeUndefined();
    expect(fine.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls?.map((t) => t.index) ?? [])).toEqual([3, 1]);
    await vi.waitFor(() => expect(records().some((l) => l.includes('"call_3"'))).toBe(true), { timeout: 10_000 });
    const record = JSON.parse(records().find((l) => l.includes('"call_3"'))!) as { content: { response: { choices: { message: { tool_calls: { id: string }[] } }[] } } };
    expect(record.content.response.choices[0]?.message.tool_calls.map((t) => t.id)).toEqual(['call_1', 'call_3']);
  });
});
