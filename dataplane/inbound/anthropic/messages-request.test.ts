import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, IMAGE_TOKENS, type PromptParts } from '../../metering/token-estimate.js';
import { toCanonicalRequest } from './messages-request.js';

// How a document block is estimated follows from its canonical part (dataplane/metering/token-estimate.ts).
describe('document blocks in the canonical form, as the estimate reads them', () => {
  const pdf = Buffer.alloc(30_000, 7).toString('base64');
  const ask = (document: Record<string, unknown>): PromptParts => {
    const parts: PromptParts = { tokens: 0 };
    const { body } = toCanonicalRequest({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: [document, { type: 'text', text: 'Summarise.' }] }] }, 0);
    parts.tokens = estimatePromptTokens(body, parts);
    return parts;
  };

  it('a base64 PDF is counted from its inline data (as a chat file part with file_data is), a text document as its text', () => {
    const inline = ask({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } });
    expect(inline.tokens).toBeGreaterThanOrEqual(pdf.length / 4);
    expect(inline.media?.files ?? 0).toBe(0);
    const text = ask({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'word '.repeat(400) } });
    expect(text.tokens).toBeGreaterThanOrEqual(500);
  });

  it('a document by URL or Files API id is a file the request names but does not carry: held as such (media.files)', () => {
    expect(ask({ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }).media?.files).toBe(1);
    expect(ask({ type: 'document', source: { type: 'file', file_id: 'file_011' } }).media?.files).toBe(1);
  });
});

// A document of content blocks and a document in a tool result are read as the text and images they hold.
describe('content documents and tool-result documents in the canonical form, as the estimate reads them', () => {
  const estimate = (messages: unknown[]): number => estimatePromptTokens(toCanonicalRequest({ model: 'm', max_tokens: 10, messages }, 0).body, { tokens: 0 });
  const words = 'word '.repeat(400);
  const png = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };

  it('a content document counts its text and holds its images as any image part', () => {
    const bare = estimate([{ role: 'user', content: 'Read.' }]);
    const document = { type: 'document', source: { type: 'content', content: [{ type: 'text', text: words }, png] }, title: 'Scan' };
    expect(estimate([{ role: 'user', content: [document, { type: 'text', text: 'Read.' }] }]) - bare).toBeGreaterThanOrEqual(500 + IMAGE_TOKENS.other);
  });

  it('a text document in a tool result counts as its text', () => {
    const turns = (content: unknown): unknown[] => [
      { role: 'user', content: 'Read.' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content }] },
    ];
    const document = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: words } };
    expect(estimate(turns([document])) - estimate(turns('ok'))).toBeGreaterThanOrEqual(500);
  });
});
