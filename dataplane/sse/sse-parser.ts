import { DEFAULT_MAX_STREAM_EVENT_BYTES } from '../config/route-limits.js';

export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

const LF = 0x0a;
const CR = 0x0d;


/** An upstream event (its data lines, or one line still without an end) grew past the limit. */
export class SseEventTooLarge extends Error {
  constructor(readonly limitBytes: number) {
    super(`upstream sent a stream event larger than ${limitBytes} bytes`);
    this.name = 'SseEventTooLarge';
  }
}

/**
 * Incremental Server-Sent Events parser (WHATWG rules: LF, CR or CRLF line ends; `data` lines joined
 * with LF; comment lines ignored; a leading BOM dropped). Bytes in, complete events out.
 *
 * Linear in the bytes pushed: every byte is looked at once per line-end kind, whatever the chunking
 * (an unfinished line is kept as the chunks it arrived in and never rescanned). An event whose data
 * (plus the line still arriving) exceeds `maxEventBytes` throws SseEventTooLarge.
 */
export class SseParser {
  /** Bytes examined while looking for line ends; at most twice the bytes pushed. */
  scannedBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dataBytes = 0;
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;
  private sawCr = false;
  private firstLine = true;

  constructor(private readonly maxEventBytes = DEFAULT_MAX_STREAM_EVENT_BYTES) {}

  push(bytes: Uint8Array): SseEvent[] {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: SseEvent[] = [];
    if (buf.length === 0) return out;
    let start = 0;
    // A CRLF split across two pushes: drop the LF that belongs to the previous CR.
    if (this.sawCr) {
      this.sawCr = false;
      if (buf[0] === LF) start = 1;
    }
    let lf = this.find(buf, LF, start);
    let cr = this.find(buf, CR, start);
    while (lf !== -1 || cr !== -1) {
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      const bytesOfLine = this.pendingBytes + end - start;
      this.line(this.takeLine(buf, start, end), bytesOfLine, out);
      start = end + 1;
      if (end === cr) {
        if (start === buf.length) this.sawCr = true;
        else if (buf[start] === LF) start++;
      }
      if (lf !== -1 && lf < start) lf = this.find(buf, LF, start);
      if (cr !== -1 && cr < start) cr = this.find(buf, CR, start);
    }
    if (start < buf.length) {
      // Copied: the caller may reuse its buffer.
      this.pending.push(Buffer.from(buf.subarray(start)));
      this.pendingBytes += buf.length - start;
      this.checkSize();
    }
    return out;
  }

  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const bytesOfLine = this.pendingBytes;
    if (bytesOfLine > 0) this.line(this.takeLine(Buffer.alloc(0), 0, 0), bytesOfLine, out);
    this.dispatch(out);
    return out;
  }

  /** indexOf that counts what it examined. */
  private find(buf: Buffer, byte: number, from: number): number {
    const at = from < buf.length ? buf.indexOf(byte, from) : -1;
    this.scannedBytes += (at === -1 ? buf.length : at + 1) - Math.min(from, buf.length);
    return at;
  }

  /** The line ending at `end`, joined with what earlier pushes left unfinished. */
  private takeLine(buf: Buffer, start: number, end: number): string {
    if (this.pending.length === 0) return buf.toString('utf8', start, end);
    this.pending.push(buf.subarray(start, end));
    const line = Buffer.concat(this.pending, this.pendingBytes + end - start).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  private checkSize(): void {
    if (this.dataBytes + this.pendingBytes > this.maxEventBytes) throw new SseEventTooLarge(this.maxEventBytes);
  }

  private line(raw: string, bytes: number, out: SseEvent[]): void {
    let line = raw;
    if (this.firstLine) {
      this.firstLine = false;
      if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    }
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // ":" comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataBytes += bytes;
      this.checkSize();
    } else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length > 0) {
      const ev: SseEvent = { data: this.data.join('\n') };
      if (this.event !== undefined) ev.event = this.event;
      if (this.id !== undefined) ev.id = this.id;
      out.push(ev);
    }
    this.data = [];
    this.dataBytes = 0;
    this.event = undefined;
  }
}
