/**
 * The most pages a provider renders of one PDF (Gemini: 1,000; Claude: 600 on 1M-token models;
 * OpenAI: 100): a PDF that claims more is refused upstream, not billed, so a page count is capped
 * here and a PDF's own `/Count 999999999` cannot make its estimate absurd.
 */
export const MAX_PDF_PAGES = 1000;

/** Base64 characters decoded to look for the `%PDF-` header (readers take it within the first 1,024 bytes). */
const HEADER_BASE64_CHARS = 1368;
const PDF_HEADER = Buffer.from('%PDF-', 'latin1');
const TYPE = Buffer.from('/Type', 'latin1');
const COUNT = Buffer.from('/Count', 'latin1');
const PAGE = Buffer.from('/Page', 'latin1');
const OBJECT_STREAM = Buffer.from('/ObjStm', 'latin1');

/** PDF white-space characters (ISO 32000 7.2.2). */
const isWhite = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x0c || b === 0x00;
/** Whether a byte ends a name: white space, a delimiter, or the end of the data. */
const endsName = (b: number | undefined): boolean => b === undefined || isWhite(b) || '()<>[]{}/%'.includes(String.fromCharCode(b));

/** The base64 payload of a file_data value: a data URI's data, or the value itself. */
function base64Payload(fileData: string): string {
  if (!fileData.startsWith('data:')) return fileData;
  const comma = fileData.indexOf(',');
  return comma < 0 || !fileData.slice(0, comma).endsWith(';base64') ? '' : fileData.slice(comma + 1);
}

/**
 * The pages of an inline PDF (a file part's base64 `file_data`, raw or as a data URI), counted
 * without parsing it: undefined when the data is not a PDF; 0 when it is one whose pages cannot
 * be counted (none found, objects in compressed object streams, where page objects are not
 * visible, or a `/Type` name written with # escapes). One linear scan of the decoded bytes for
 * page objects (`/Type /Page`, not `/Pages`) and for the page tree's `/Count`; the larger of the
 * two, at most MAX_PDF_PAGES. A PDF updated incrementally repeats its changed pages: an over-count.
 * Only requests that carry file data pay for the decode, at most the body limit.
 */
export function pdfPages(fileData: string): number | undefined {
  const payload = base64Payload(fileData);
  if (payload === '') return undefined;
  const head = Buffer.from(payload.slice(0, HEADER_BASE64_CHARS), 'base64');
  if (head.indexOf(PDF_HEADER) < 0) return undefined;
  const pdf = Buffer.from(payload, 'base64');
  if (pdf.indexOf(OBJECT_STREAM) >= 0) return 0;
  let pages = 0;
  for (let at = pdf.indexOf(TYPE); at >= 0; at = pdf.indexOf(TYPE, at + TYPE.length)) {
    let i = at + TYPE.length;
    if (!endsName(pdf[i])) continue;
    while (isWhite(pdf[i])) i++;
    if (pdf[i] !== 0x2f) continue;
    // A # in the type's name is an escape (/P#61ge is /Page): it hides what this scan looks for.
    let end = i + 1;
    while (!endsName(pdf[end])) end++;
    if (pdf.subarray(i, end).includes(0x23)) return 0;
    if (end - i === PAGE.length && pdf.subarray(i, end).equals(PAGE)) pages++;
  }
  let counted = 0;
  for (let at = pdf.indexOf(COUNT); at >= 0; at = pdf.indexOf(COUNT, at + COUNT.length)) {
    let i = at + COUNT.length;
    while (isWhite(pdf[i])) i++;
    let n = 0;
    for (let digits = 0; digits < 7 && (pdf[i] ?? 0) >= 0x30 && (pdf[i] ?? 0) <= 0x39; digits++, i++) n = n * 10 + ((pdf[i] ?? 0x30) - 0x30);
    counted = Math.max(counted, n);
  }
  return Math.min(MAX_PDF_PAGES, Math.max(pages, counted));
}
