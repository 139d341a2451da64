import { crc32 } from './crc32.js';

// AWS event-stream framing (application/vnd.amazon.eventstream), big-endian:
//   total length (4) | headers length (4) | prelude CRC32 (4) | headers | payload | message CRC32 (4)

export type EventStreamHeaderValue = string | number | boolean | bigint | Uint8Array | Date;

export interface EventStreamMessage {
  headers: Record<string, EventStreamHeaderValue>;
  payload: Uint8Array;
}

export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

const PRELUDE = 12;
const MIN_MESSAGE = 16;
/** Bedrock messages are small; anything near this is corrupt framing, not a real event. */
const MAX_MESSAGE = 16 * 1024 * 1024;

function parseHeaders(bytes: Uint8Array): Record<string, EventStreamHeaderValue> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const headers: Record<string, EventStreamHeaderValue> = {};
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new EventStreamError('event-stream header runs past its section');
  };
  while (at < bytes.length) {
    need(1);
    const nameLength = view.getUint8(at);
    at += 1;
    need(nameLength + 1);
    const name = decoder.decode(bytes.subarray(at, at + nameLength));
    at += nameLength;
    const type = view.getUint8(at);
    at += 1;
    switch (type) {
      case 0:
        headers[name] = true;
        break;
      case 1:
        headers[name] = false;
        break;
      case 2:
        need(1);
        headers[name] = view.getInt8(at);
        at += 1;
        break;
      case 3:
        need(2);
        headers[name] = view.getInt16(at);
        at += 2;
        break;
      case 4:
        need(4);
        headers[name] = view.getInt32(at);
        at += 4;
        break;
      case 5:
        need(8);
        headers[name] = view.getBigInt64(at);
        at += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const length = view.getUint16(at);
        at += 2;
        need(length);
        const value = bytes.subarray(at, at + length);
        headers[name] = type === 7 ? decoder.decode(value) : value.slice();
        at += length;
        break;
      }
      case 8:
        need(8);
        headers[name] = new Date(Number(view.getBigInt64(at)));
        at += 8;
        break;
      case 9:
        need(16);
        headers[name] = bytes.slice(at, at + 16);
        at += 16;
        break;
      default:
        throw new EventStreamError(`unknown event-stream header value type ${type}`);
    }
  }
  return headers;
}

/**
 * Incremental decoder: bytes in (split anywhere), whole messages out, both CRCs checked. A CRC or
 * framing error throws EventStreamError; the stream cannot be resynchronised after it.
 *
 * Linear in the bytes pushed: chunks are queued as they come and a message's bytes are joined once,
 * when all of them are there (joining on every push copied a large message again and again).
 */
export class EventStreamDecoder {
  private chunks: Uint8Array[] = [];
  private size = 0;
  /** Bytes copied to join messages that arrived in pieces; tests check it stays near the bytes pushed. */
  copiedBytes = 0;

  push(bytes: Uint8Array): EventStreamMessage[] {
    if (bytes.length > 0) {
      this.chunks.push(bytes);
      this.size += bytes.length;
    }
    const out: EventStreamMessage[] = [];
    while (this.size >= PRELUDE) {
      const prelude = this.peek(PRELUDE);
      const view = new DataView(prelude.buffer, prelude.byteOffset, PRELUDE);
      const total = view.getUint32(0);
      const headersLength = view.getUint32(4);
      if (crc32(prelude, 0, 8) !== view.getUint32(8)) throw new EventStreamError('event-stream prelude CRC mismatch');
      if (total < MIN_MESSAGE || total > MAX_MESSAGE || headersLength > total - MIN_MESSAGE) throw new EventStreamError(`bad event-stream message length ${total}`);
      if (this.size < total) break;
      const message = this.take(total);
      const messageView = new DataView(message.buffer, message.byteOffset, total);
      if (crc32(message, 0, total - 4) !== messageView.getUint32(total - 4)) throw new EventStreamError('event-stream message CRC mismatch');
      const headers = parseHeaders(message.subarray(PRELUDE, PRELUDE + headersLength));
      const payload = message.slice(PRELUDE + headersLength, total - 4);
      out.push({ headers, payload });
    }
    return out;
  }

  /** Bytes left over when the stream ended: a truncated message. */
  get pending(): number {
    return this.size;
  }

  /** The first n queued bytes, without consuming them (n is small: the prelude). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  /** Removes and returns the first n queued bytes, copying only when they span chunks. */
  private take(n: number): Uint8Array {
    this.size -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      if (c === undefined) break;
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (part.length === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part.length);
    }
    this.copiedBytes += n;
    return out;
  }
}
