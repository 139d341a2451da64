import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let client: OpenAI;

const route = (name: string, extra: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets: [{ providerRef: { name: up }, model: m }]
${extra}---
`;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway({
    // $1000 / $2000 per million tokens: one JSON answer (10 in, 5 out) costs $0.02.
    // doc: a 1,000-token window, at the same prices. gpt-4o-mini (images billed up to 48,169 tokens)
    // and doc-big (a 20,000-token window) at $10 a million.
    'provider.yaml': openAiProvider(
      'up',
      upstream.baseUrl,
      '  models: [{ name: m, pricing: { input: 1000, output: 2000 } }, { name: doc, contextWindow: 1000, pricing: { input: 1000, output: 2000 } }, { name: gpt-4o-mini, pricing: { input: 10, output: 10 } }, { name: doc-big, contextWindow: 20000, pricing: { input: 10, output: 10 } }]\n',
    ),
    'routes.yaml':
      route('limited', '  rateLimits: [{ per: Route, requestsPerMinute: 3 }]\n') +
      route('cached', '  cache: { enabled: true, ttl: 5m }\n') +
      route('metered', '') +
      route('cheap', '') +
      route('capped-stream', '') +
      route('files', '').replace('model: m }', 'model: doc }') +
      route('vision', '').replace('model: m }', 'model: gpt-4o-mini }') +
      route('vision-open', '').replace('model: m }', 'model: gpt-4o-mini }') +
      route('pdf', '').replace('model: m }', 'model: doc-big }') +
      `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: vision-daily }
spec:
  limit: { amount: 0.3, unit: USD }
  period: Day
  subjects: { routes: [{ name: vision }] }
---
apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: pdf-daily }
spec:
  limit: { amount: 0.25, unit: USD }
  period: Day
  subjects: { routes: [{ name: pdf }] }
---
` +
      `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: files-daily }
spec:
  limit: { amount: 0.5, unit: USD }
  period: Day
  subjects: { routes: [{ name: files }] }
---
` +
      `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: stream-cap }
spec:
  limit: { amount: 0.05, unit: USD }
  period: Day
  subjects: { routes: [{ name: capped-stream }] }
  action: { type: Reject, cutStreams: true }
---
` +
      `apiVersion: tollgate.dev/v1alpha1
kind: Budget
metadata: { name: metered-daily }
spec:
  limit: { amount: 0.05, unit: USD }
  period: Day
  subjects: { routes: [{ name: metered }, { name: cached }] }
  action: { type: Downgrade, downgradeTo: cheap }
`,
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const ask = (model: string, content = 'hi') => client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content }] }).withResponse();

describe('governance through the gateway', () => {
  it('rate limits per route with 429, retry-after and x-ratelimit headers', async () => {
    for (let i = 0; i < 3; i++) {
      const { response } = await ask('limited');
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe(String(2 - i));
    }
    const err = (await ask('limited').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limit_exceeded');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(err.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
  });

  it('serves identical requests from the cache, JSON and streams, without calling upstream or charging budgets', async () => {
    upstream.script({ kind: 'auto', chunks: 3 });
    const before = upstream.requests.length;
    const first = await ask('cached', 'cache me');
    expect(first.response.headers.get('x-tollgate-cache')).toBe('miss');
    const second = await ask('cached', 'cache me');
    expect(second.response.headers.get('x-tollgate-cache')).toBe('hit');
    expect(second.data).toEqual(first.data);
    expect(upstream.requests.length - before).toBe(1);

    const stream = async () => {
      const s = await client.chat.completions.create({ model: 'cached', stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'stream me' }] }).withResponse();
      let text = '';
      for await (const c of s.data) text += c.choices[0]?.delta.content ?? '';
      return { text, cache: s.response.headers.get('x-tollgate-cache') };
    };
    const s1 = await stream();
    const s2 = await stream();
    expect(s1).toEqual({ text: 'tok tok tok', cache: 'miss' });
    expect(s2).toEqual({ text: 'tok tok tok', cache: 'hit' });
    expect(upstream.requests.length - before).toBe(2);
    // Two misses were charged ($0.02 + a stream); the hits cost nothing.
    const charged = gateway.usage.records.filter((r) => r.routeId === 'default/cached');
    expect(charged).toHaveLength(2);
  });

  it('cuts a stream that crosses a hard cap with a final error event (cutStreams)', async () => {
    // The client asks for 5 tokens, the upstream streams 200 (it ignores the cap): the reservation was too small.
    upstream.script({ kind: 'stream', chunks: 200, intervalMs: 0, overrunCap: true });
    const stream = await client.chat.completions.create({ model: 'capped-stream', stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    let chunks = 0;
    const err = await (async () => {
      for await (const c of stream) if (c.choices[0]?.delta.content) chunks++;
    })().catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/budget default\/stream-cap was exhausted during this stream/);
    expect(chunks).toBeGreaterThan(5);
    expect(chunks).toBeLessThan(40);
    // The cut stream is still charged for what it produced.
    const charged = gateway.usage.records.filter((r) => r.routeId === 'default/capped-stream');
    expect(charged).toHaveLength(1);
    expect(charged[0]?.costUsd).toBeGreaterThan(0.04);
  });

  it('holds a file named by id at the most it can be billed: the rest of the target window', async () => {
    upstream.script({ kind: 'ok' });
    const fileAsk = (part: OpenAI.Chat.Completions.ChatCompletionContentPart) => client.chat.completions.create({ model: 'files', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'summarise' }, part] }] });
    // The file's pages are not in the request: up to the rest of the 1,000-token window at $1000 a
    // million ($1), over the 50-cent Budget. Before, it counted as the few bytes of its id: held $0.03.
    await expect(fileAsk({ type: 'file', file: { file_id: 'file-abc123' } })).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    // A file sent inline is counted as its text: a small one fits.
    await fileAsk({ type: 'file', file: { filename: 'a.txt', file_data: 'data:text/plain;base64,aGk=' } });
  });

  it("holds an image at what the target's model bills at most: gpt-4o-mini up to 48,169 tokens, 2,833 at low", async () => {
    upstream.script({ kind: 'ok' });
    const image = (model: string, detail: 'low' | 'high' | 'auto') => client.chat.completions.create({ model, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail } }] }] });
    // 48,169 tokens at $10 a million: $0.48, over the $0.30 Budget. Before, 5,000 tokens were held ($0.05).
    await expect(image('vision', 'high')).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    await expect(image('vision', 'auto')).rejects.toMatchObject({ status: 429, code: 'budget_exceeded' });
    // At low it bills 2,833: held at the 5,000 every image is.
    await image('vision', 'low');
    // A stream whose usage never comes is charged so too. Before, 5,000 tokens an image.
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0, omitUsage: true });
    const stream = await client.chat.completions.create({ model: 'vision-open', stream: true, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] }] });
    for await (const _ of stream);
    const charged = gateway.usage.records.filter((r) => r.routeId === 'default/vision-open');
    expect(charged).toHaveLength(1);
    expect(charged[0]?.inputTokens).toBeGreaterThanOrEqual(48_169);
    // A file named by id, on a target of no declared window: its 1,000,000 tokens. Before, only when its attempt was lost.
    upstream.script({ kind: 'stream', chunks: 2, intervalMs: 0, omitUsage: true });
    const file = await client.chat.completions.create({ model: 'vision-open', stream: true, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123' } }] }] });
    for await (const _ of file);
    expect(gateway.usage.records.filter((r) => r.routeId === 'default/vision-open')[1]?.inputTokens).toBeGreaterThanOrEqual(1_000_000);
  });

  it("holds an inline PDF's pages at most at what the target's window takes, as a file by id", async () => {
    upstream.script({ kind: 'ok' });
    // Three compact pages: 30,000 tokens of page images and text ($0.30 at $10 a million), over the
    // $0.25 Budget; the 20,000-token window bills at most $0.20. Before, refused: the PDF was not clamped.
    const kids = [3, 4, 5].map((n) => `${n} 0 R`).join(' ');
    const pages = [3, 4, 5].map((n) => `${n} 0 obj << /Type /Page /Parent 2 0 R >> endobj`).join('\n');
    const pdf = Buffer.from(`%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [${kids}] /Count 3 >> endobj\n${pages}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1').toString('base64');
    const answer = await client.chat.completions.create({ model: 'pdf', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'summarise' }, { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } }] }] });
    expect(answer.choices).toHaveLength(1);
  });

  it('downgrades to the cheaper route once the budget cannot cover a request', async () => {
    upstream.script({ kind: 'ok' });
    // The budget covers metered + cached: $0.05, of which the cache test spent about $0.035.
    let downgraded = 0;
    for (let i = 0; i < 4; i++) {
      const { response } = await ask('metered', 'x'.repeat(40));
      if (response.headers.get('x-tollgate-downgraded-by') === 'default/metered-daily') {
        downgraded++;
        expect(response.headers.get('x-tollgate-route')).toBe('default/cheap');
      }
    }
    expect(downgraded).toBeGreaterThan(0);
    const spent = gateway.usage.records.filter((r) => r.routeId === 'default/metered' || r.routeId === 'default/cached').reduce((s, r) => s + r.costUsd, 0);
    expect(spent).toBeLessThanOrEqual(0.05 + 1e-9);
  });
});
