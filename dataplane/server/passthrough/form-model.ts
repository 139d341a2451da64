import { Transform, type TransformCallback } from 'node:stream';
import { errors, type GatewayError } from '../../core/gateway-error.js';

/** The upload paths whose form names the model that runs (the others, file uploads, name none). */
const MODEL_FORMS = /^\/v1\/(audio\/(transcriptions|translations)|images\/(edits|variations)|videos)$/;
/** A part's headers are a few lines: more is not a form a client library built. */
const MAX_PART_HEADERS = 16 * 1024;
/** A model's name; the value of a `model` part is held until its end to replace it. */
const MAX_MODEL_VALUE = 1024;
/** Whitespace allowed after a boundary before its line end (RFC 2046 transport padding). */
const MAX_PADDING = 64;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

const malformed = (why: string): GatewayError => errors.badRequest(`the multipart form is malformed: ${why}`);

/**
 * The boundary of an upload whose form names a model (audio transcriptions and translations, image
 * edits and variations, video generations sent as multipart/form-data); undefined for any other request. A multipart
 * body without a boundary cannot be read by anyone: 400 at once.
 */
export function modelFormBoundary(path: string, contentType: string | undefined): string | undefined {
  if (!MODEL_FORMS.test(path) || contentType === undefined || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const boundary = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  const value = boundary?.[1] ?? boundary?.[2];
  if (value === undefined) throw malformed('its content-type has no boundary (1 to 70 characters)');
  return value;
}

type State = 'start' | 'body' | 'model' | 'after-boundary' | 'headers' | 'epilogue';

/**
 * Replaces the value of every `model` field of a multipart form with the route target's model as the
 * form streams upstream, as the JSON path replaces a body's `model`. Before, the form's model went
 * upstream as the caller wrote it: a route whose target is whisper-1 ran (and was recorded and priced
 * as) whatever model the caller named. Only the bytes a delimiter may straddle, a part's headers (up
 * to 16 KiB) and a model's value (up to 1 KiB) are held; a file part streams through. A form that
 * does not parse is an error (400) on the stream.
 */
export class FormModelRewriter extends Transform {
  private state: State = 'start';
  /** Bytes not passed on yet: what a delimiter may start with, a part's headers, a model's value. */
  private held: Buffer = EMPTY;
  /** `\r\n--boundary`: what ends every part (the first boundary has no line end before it). */
  private readonly delimiter: Buffer;
  private readonly value: Buffer;
  /** The models the form named, as sent. */
  readonly named: string[] = [];
  /** The input images the form carried (parts named `image`, `image[]` or `mask`): an edit bills each as image input tokens. */
  inputImages = 0;

  constructor(boundary: string, model: string) {
    super();
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.value = Buffer.from(model);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    try {
      this.advance();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state !== 'epilogue') done(malformed('it ends before its closing boundary'));
    else done();
  }

  private advance(): void {
    for (;;) {
      const buf = this.held;
      switch (this.state) {
        case 'start': {
          // A form starts with its first boundary; anything else is a preamble, skipped like a part's body.
          const first = this.delimiter.subarray(CRLF.length);
          const seen = Math.min(buf.length, first.length);
          if (!buf.subarray(0, seen).equals(first.subarray(0, seen))) {
            this.state = 'body';
            continue;
          }
          if (seen < first.length) return;
          this.pass(first.length);
          this.state = 'after-boundary';
          continue;
        }
        case 'body':
        case 'model': {
          const at = buf.indexOf(this.delimiter);
          if (this.state === 'model') {
            if ((at === -1 ? buf.length - this.delimiter.length : at) > MAX_MODEL_VALUE) throw malformed(`its model field is longer than ${MAX_MODEL_VALUE} bytes`);
            if (at === -1) return;
            this.named.push(buf.toString('utf8', 0, at));
            this.push(this.value);
            this.held = buf.subarray(at);
            this.pass(this.delimiter.length);
          } else if (at === -1) {
            // All but what may be the start of a delimiter split across chunks; copied so the chunk is not kept.
            const keep = Math.min(buf.length, this.delimiter.length - 1);
            if (buf.length > keep) this.push(buf.subarray(0, buf.length - keep));
            this.held = Buffer.from(buf.subarray(buf.length - keep));
            return;
          } else {
            this.pass(at + this.delimiter.length);
          }
          this.state = 'after-boundary';
          continue;
        }
        case 'after-boundary': {
          if (buf.length < 2) return;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            this.state = 'epilogue';
            continue;
          }
          const eol = buf.indexOf(CRLF);
          if (eol === -1 ? buf.length > MAX_PADDING : !/^[ \t]*$/.test(buf.toString('latin1', 0, eol))) throw malformed('a boundary is followed by something other than a line end');
          if (eol === -1) return;
          this.pass(eol + CRLF.length);
          this.state = 'headers';
          continue;
        }
        case 'headers': {
          // No headers at all: the blank line comes at once.
          const end = buf.subarray(0, 2).equals(CRLF) ? -2 : buf.indexOf(HEADERS_END);
          if (end === -1) {
            if (buf.length > MAX_PART_HEADERS) throw malformed(`a part's headers are longer than ${MAX_PART_HEADERS} bytes`);
            return;
          }
          const field = end > 0 ? formField(buf.toString('latin1', 0, end)) : undefined;
          const isModel = field !== undefined && field.name === 'model' && !field.file;
          if (field !== undefined && INPUT_IMAGE_FIELDS.has(field.name)) this.inputImages++;
          this.pass(end + HEADERS_END.length);
          this.state = isModel ? 'model' : 'body';
          continue;
        }
        case 'epilogue':
          if (buf.length > 0) this.pass(buf.length);
          return;
      }
    }
  }

  /** Passes the first `n` held bytes on. */
  private pass(n: number): void {
    this.push(this.held.subarray(0, n));
    this.held = this.held.subarray(n);
  }
}

/** The fields of an images edit form that carry an input image (OpenAI's `image`, `image[]`, and its `mask`). */
const INPUT_IMAGE_FIELDS = new Set(['image', 'image[]', 'mask']);

/**
 * The fewest bytes of an input image part besides its boundary: `--`, the boundary's line end, the
 * shortest header that names one (`content-disposition:;name=mask`, 30 bytes, what formField still
 * reads) and the blank line after it, with an empty image.
 */
const MIN_IMAGE_PART_BYTES = 2 + CRLF.length + 30 + HEADERS_END.length;

/**
 * The most input images a form of `bytes` (its declared length, else the most the route takes)
 * with `boundary` can carry: no real form carries more, as each takes at least
 * MIN_IMAGE_PART_BYTES and its boundary.
 */
export function formImagesBound(bytes: number, boundary: string): number {
  return Math.floor(Math.max(0, bytes) / (MIN_IMAGE_PART_BYTES + Buffer.byteLength(boundary, 'latin1')));
}

/** A part's Content-Disposition name, and whether it is a file (has a filename); undefined without one. */
function formField(headers: string): { name: string; file: boolean } | undefined {
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const params = new Map<string, string>();
    for (const param of line.slice(colon + 1).split(';').slice(1)) {
      const eq = param.indexOf('=');
      if (eq === -1) continue;
      const raw = param.slice(eq + 1).trim();
      params.set(param.slice(0, eq).trim().toLowerCase(), raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1) : raw);
    }
    const name = params.get('name');
    return name === undefined ? undefined : { name, file: params.has('filename') || params.has('filename*') };
  }
  return undefined;
}
