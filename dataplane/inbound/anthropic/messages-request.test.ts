import { describe, expect, it } from 'vitest';
import { estimatePromptTokens, type PromptParts } from '../../metering/token-estimate.js';
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
    expect(inline.unreadFiles).toBeUndefined();
    const text = ask({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'word '.repeat(400) } });
    expect(text.tokens).toBeGreaterThanOrEqual(500);
  });

  it('a document by URL or Files API id is a file the request names but does not carry: held as such (unreadFiles)', () => {
    expect(ask({ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }).unreadFiles).toBe(1);
    expect(ask({ type: 'document', source: { type: 'file', file_id: 'file_011' } }).unreadFiles).toBe(1);
  });
});
