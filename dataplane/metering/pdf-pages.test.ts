import { describe, expect, it } from 'vitest';
import { MAX_PDF_PAGES, pdfPages } from './pdf-pages.js';
import { estimatePromptTokens, IMAGE_TOKENS, PDF_PAGE_TEXT_TOKENS, type PromptParts } from './token-estimate.js';
import { toCanonicalRequest as fromResponses } from '../inbound/responses/responses-request.js';

/** A PDF of `pages` pages (uncompressed objects), each with about `textBytes` of text, as a base64 data URI. */
function pdf(pages: number, textBytes = 100, { count = pages, extra = '' } = {}): string {
  const kids = Array.from({ length: pages }, (_, i) => `${3 + i} 0 R`).join(' ');
  const objects = [`1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj`, `2 0 obj << /Type /Pages /Kids [${kids}] /Count ${count} >> endobj`];
  for (let i = 0; i < pages; i++) objects.push(`${3 + i} 0 obj << /Type/Page /Parent 2 0 R /Contents (${'x'.repeat(textBytes)}) >> endobj`);
  return `data:application/pdf;base64,${Buffer.from(`%PDF-1.7\n${objects.join('\n')}\n${extra}trailer << /Root 1 0 R >>\n%%EOF\n`, 'latin1').toString('base64')}`;
}

describe('inline PDF pages', () => {
  it('counts page objects (not the page tree), with /Count as a cross-check', () => {
    expect(pdfPages(pdf(1))).toBe(1);
    expect(pdfPages(pdf(7))).toBe(7);
    // The page tree says more than the objects seen: the larger.
    expect(pdfPages(pdf(2, 10, { count: 9 }))).toBe(9);
    expect(pdfPages(pdf(2, 10, { count: 99_999_999 }))).toBe(MAX_PDF_PAGES);
    // Raw base64 as well as a data URI.
    expect(pdfPages(pdf(3).split(',')[1] ?? '')).toBe(3);
  });

  it('is undefined for data that is not a PDF, and 0 for a PDF whose pages it cannot see', () => {
    expect(pdfPages(`data:text/plain;base64,${Buffer.from('hello').toString('base64')}`)).toBeUndefined();
    expect(pdfPages('not base64 at all')).toBeUndefined();
    expect(pdfPages(pdf(0, 0, { count: 0 }))).toBe(0);
    // Pages in a compressed object stream, or a type name hidden by escapes.
    expect(pdfPages(pdf(2, 10, { extra: '9 0 obj << /Type /ObjStm /N 3 >> stream\nxx\nendstream endobj\n' }))).toBe(0);
    expect(pdfPages(pdf(1, 10, { extra: '9 0 obj << /Type /P#61ge >> endobj\n' }))).toBe(0);
  });
});

describe('prompt estimate of an inline PDF', () => {
  const chat = (fileData: string) => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'sum up' }, { type: 'file', file: { filename: 'a.pdf', file_data: fileData } }] }] });
  const told = (body: Record<string, unknown>): PromptParts => {
    const parts: PromptParts = { tokens: 0 };
    parts.tokens = estimatePromptTokens(body, parts);
    return parts;
  };

  it("a compact page is at least its image and a page of text (before, its base64's bytes / 4: ~1,000 for 3 KB, under the 3,779 its image alone can bill)", () => {
    const one = told(chat(pdf(1, 3000)));
    expect(one.tokens).toBeGreaterThanOrEqual(IMAGE_TOKENS.other + PDF_PAGE_TEXT_TOKENS);
    expect(one.media?.files ?? 0).toBe(0);
    // Five pages: five times that.
    expect(told(chat(pdf(5, 3000))).tokens).toBeGreaterThanOrEqual(5 * (IMAGE_TOKENS.other + PDF_PAGE_TEXT_TOKENS));
    // The window guard reads the base64 text, as before: it counts images from below.
    expect(one.windowTokens).toBeLessThan(2_000);
  });

  it('a PDF larger than its pages bound is its base64 text plus its images', () => {
    const data = pdf(2, 100_000);
    expect(told(chat(data)).tokens).toBeGreaterThanOrEqual(Math.ceil(data.length / 4) + 2 * IMAGE_TOKENS.other);
  });

  it('a Responses input_file with file_data, translated or native, counts so too', () => {
    const responses = (tools: unknown[]) => fromResponses({ model: 'm', tools, input: [{ role: 'user', content: [{ type: 'input_text', text: 'sum up' }, { type: 'input_file', filename: 'a.pdf', file_data: pdf(3, 3000) }] }] }, 1).canonical.body;
    expect(told(responses([])).tokens).toBeGreaterThanOrEqual(3 * (IMAGE_TOKENS.other + PDF_PAGE_TEXT_TOKENS));
    expect(told(responses([{ type: 'web_search' }])).tokens).toBeGreaterThanOrEqual(3 * (IMAGE_TOKENS.other + PDF_PAGE_TEXT_TOKENS));
  });

  it('a PDF whose pages cannot be counted is held as a file not read; other file data is its text', () => {
    expect(told(chat(pdf(2, 10, { extra: '9 0 obj << /Type /ObjStm >> endobj\n' }))).media?.files).toBe(1);
    const text = told(chat(`data:text/plain;base64,${Buffer.from('x'.repeat(4000)).toString('base64')}`));
    expect(text.media).toBeUndefined();
    expect(text.tokens).toBeLessThan(2_000);
  });
});
