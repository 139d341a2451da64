export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental Server-Sent Events parser (WHATWG rules: LF, CR or CRLF line ends; `data` lines joined
 * with LF; comment lines ignored). Bytes in, complete events out; partial lines are kept across pushes.
 */
export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  private id: string | undefined;
  private sawCr = false;

  push(bytes: Uint8Array): SseEvent[] {
    let text = this.decoder.decode(bytes, { stream: true });
    // A CRLF split across two pushes: drop the LF that belongs to the previous CR.
    if (this.sawCr && text.charCodeAt(0) === LF) text = text.slice(1);
    this.sawCr = text.length > 0 && text.charCodeAt(text.length - 1) === CR;
    this.buffer += text;
    return this.drain(false);
  }

  end(): SseEvent[] {
    this.buffer += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    const buf = this.buffer;
    if (buf.indexOf('\r') === -1) {
      // The common case (LF only): jump from line end to line end instead of testing every character.
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n', start)) {
        this.line(buf.slice(start, nl), out);
        start = nl + 1;
      }
      return this.finishDrain(buf, start, final, out);
    }
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      this.line(buf.slice(start, i), out);
      if (c === CR && buf.charCodeAt(i + 1) === LF) i++;
      start = i + 1;
    }
    return this.finishDrain(buf, start, final, out);
  }

  private finishDrain(buf: string, start: number, final: boolean, out: SseEvent[]): SseEvent[] {
    this.buffer = buf.slice(start);
    if (final) {
      if (this.buffer.length > 0) this.line(this.buffer, out);
      this.buffer = '';
      this.dispatch(out);
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return; // ":" comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
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
    this.event = undefined;
  }
}
