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
 */
export class EventStreamDecoder {
  private buffer = new Uint8Array(0);

  push(bytes: Uint8Array): EventStreamMessage[] {
    if (this.buffer.length === 0) this.buffer = bytes.slice();
    else {
      const joined = new Uint8Array(this.buffer.length + bytes.length);
      joined.set(this.buffer, 0);
      joined.set(bytes, this.buffer.length);
      this.buffer = joined;
    }
    const out: EventStreamMessage[] = [];
    let offset = 0;
    while (this.buffer.length - offset >= PRELUDE) {
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + offset, this.buffer.length - offset);
      const total = view.getUint32(0);
      const headersLength = view.getUint32(4);
      if (crc32(this.buffer, offset, offset + 8) !== view.getUint32(8)) throw new EventStreamError('event-stream prelude CRC mismatch');
      if (total < MIN_MESSAGE || total > MAX_MESSAGE || headersLength > total - MIN_MESSAGE) throw new EventStreamError(`bad event-stream message length ${total}`);
      if (this.buffer.length - offset < total) break;
      if (crc32(this.buffer, offset, offset + total - 4) !== view.getUint32(total - 4)) throw new EventStreamError('event-stream message CRC mismatch');
      const headers = parseHeaders(this.buffer.subarray(offset + PRELUDE, offset + PRELUDE + headersLength));
      const payload = this.buffer.slice(offset + PRELUDE + headersLength, offset + total - 4);
      out.push({ headers, payload });
      offset += total;
    }
    this.buffer = this.buffer.slice(offset);
    return out;
  }

  /** Bytes left over when the stream ended: a truncated message. */
  get pending(): number {
    return this.buffer.length;
  }
}
