import { describe, expect, it } from 'vitest';
import { SseParser } from './sse-parser.js';

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
