import { describe, expect, it } from 'vitest';
import { SseEventTooLarge, SseParser } from './sse-parser.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('SseParser', () => {
  it('parses data-only events and [DONE]', () => {
    const p = new SseParser();
    expect(p.push(enc('data: {"a":1}\n\ndata: [DONE]\n\n'))).toEqual([{ data: '{"a":1}' }, { data: '[DONE]' }]);
  });

  it('keeps partial lines across pushes, byte by byte, including split UTF-8 and CRLF', () => {
    const text = 'event: message_start\r\ndata: {"t":"héllo"}\r\n\r\n: comment\r\nid: 7\r\ndata: a\r\ndata: b\r\n\r\n';
    const bytes = enc(text);
    const p = new SseParser();
    const out = [];
    for (const b of bytes) out.push(...p.push(new Uint8Array([b])));
    out.push(...p.end());
    expect(out).toEqual([{ event: 'message_start', data: '{"t":"héllo"}' }, { data: 'a\nb', id: '7' }]);
  });

  it('parses LF-only streams split at every byte', () => {
    const text = 'data: {"a":"ü"}\n\nevent: x\ndata: 1\ndata: 2\n\n: c\ndata: [DONE]\n\n';
    const p = new SseParser();
    const out = [];
    for (const b of enc(text)) out.push(...p.push(new Uint8Array([b])));
    expect(out).toEqual([{ data: '{"a":"ü"}' }, { event: 'x', data: '1\n2' }, { data: '[DONE]' }]);
  });

  it('dispatches a final event without a trailing blank line at end of stream', () => {
    const p = new SseParser();
    expect(p.push(enc('data: x'))).toEqual([]);
    expect(p.end()).toEqual([{ data: 'x' }]);
  });

  it('ignores events without data and fields without a space after the colon', () => {
    const p = new SseParser();
    expect(p.push(enc('event: ping\n\ndata:y\n\n'))).toEqual([{ data: 'y' }]);
  });
});

describe('SseParser limits', () => {
  const chunked = (text: string, size: number): Uint8Array[] => {
    const bytes = enc(text);
    const out: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
    return out;
  };

  it('looks at each byte of a long unfinished line once per line-end kind, however it is chunked', () => {
    const p = new SseParser(64 * 1024 * 1024);
    const parts = chunked(`data: ${'x'.repeat(4 * 1024 * 1024)}`, 1024);
    let pushed = 0;
    for (const part of parts) {
      expect(p.push(part)).toEqual([]);
      pushed += part.length;
    }
    // The old parser rescanned its whole buffer on every push: about 4096²/2 KiB here.
    expect(p.scannedBytes).toBeLessThanOrEqual(2 * pushed);
    expect(p.end()).toHaveLength(1);
  });

  it('stays linear on chunks of many short LF-only lines', () => {
    const p = new SseParser();
    const text = 'data: {"a":1}\n\n'.repeat(20_000);
    let events = 0;
    for (const part of chunked(text, 64 * 1024)) events += p.push(part).length;
    expect(events).toBe(20_000);
    expect(p.scannedBytes).toBeLessThanOrEqual(2 * text.length);
  });

  it('refuses a line without an end that grows past the event limit', () => {
    const p = new SseParser(1024);
    expect(p.push(enc(`data: ${'x'.repeat(1000)}`))).toEqual([]);
    expect(() => p.push(enc('x'.repeat(100)))).toThrow(SseEventTooLarge);
  });

  it('refuses an event whose data lines add up past the limit, and accepts one just below it', () => {
    const line = `data: ${'y'.repeat(94)}\n`; // 101 bytes
    const ok = new SseParser(1024);
    expect(ok.push(enc(`${line.repeat(10)}\n`))).toHaveLength(1);
    expect(ok.push(enc(`${line.repeat(10)}\n`))).toHaveLength(1);
    const tooBig = new SseParser(1024);
    expect(() => tooBig.push(enc(line.repeat(11)))).toThrow(SseEventTooLarge);
  });

  it('drops a leading byte order mark', () => {
    const p = new SseParser();
    expect(p.push(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('data: a\n\n')]))).toEqual([{ data: 'a' }]);
  });
});
