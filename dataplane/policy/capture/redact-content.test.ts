import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { BUILTIN_DETECTORS, compileDetectors, type DetectorSet } from '../detectors/index.js';
import { countsJson, redactJsonText, type RedactionTally } from './redact-content.js';

/**
 * The object-walk redaction the capture path used before it redacted JSON text (session 7): every
 * string value of the parsed value through the detectors (or, when binary, a size marker) as
 * JSON.stringify writes it. redactJsonText must give the same text, counts (in the same order) and
 * unscanned flag.
 */
function walkRedaction(value: unknown, detectors: DetectorSet | undefined, tally: RedactionTally): string {
  const visit = (s: string, key: string): string => {
    const base64 = s.length >= 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(s);
    if (/^data:[^,]{0,200};base64,/.test(s) || (base64 && (s.length >= 256 || ['data', 'file_data', 'b64_json'].includes(key)))) return `[BINARY ${s.length} chars omitted]`;
    if (detectors === undefined) return s;
    const r = detectors.redact(s);
    for (const type in r.counts) tally.counts[type] = (tally.counts[type] ?? 0) + r.counts[type]!;
    if (!r.complete) tally.unscanned = true;
    return r.text;
  };
  // JSON.stringify visits values in the order it writes them: the same order as the text walk.
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    return typeof v === 'string' ? visit(v, Array.isArray(this) ? '' : key) : v;
  });
}

const compile = (limits?: { maxMatches?: number; maxInputLength?: number }): DetectorSet => {
  const compiled = compileDetectors({ detectors: BUILTIN_DETECTORS, customPatterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }], ...(limits === undefined ? {} : { limits }) });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  return compiled.detectors;
};

// Pieces a generated string is made of: PII of every detector, JSON escapes, quotes and colons
// that look like JSON structure, non-ASCII (accents, CJK, emoji, a lone surrogate), data URLs.
const PIECES = [
  'ann.lee@example.com',
  '4111 1111 1111 1111',
  '+44 20 7946 0958',
  '10.1.2.3',
  'GB82WEST12345698765432',
  'sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD',
  'Bearer abc.def.ghi',
  'EMP-123456',
  'plain words ',
  ' 2024 ',
  '"',
  '\\',
  '\\"',
  '":',
  '","x":"',
  '\n',
  '\t',
  '\u0000\u001f',
  'é ü 漢字 ',
  '😀',
  '\ud800',
  '@',
  'data:image/png;base64,iVBORw0KGgo=',
  'data:image/png;name=scan.png;base64,iVBORw0KGgo=',
  'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=',
  'QUJD'.repeat(70),
];

function text(rand: () => number): string {
  let s = '';
  for (let n = Math.floor(rand() * 6); n > 0; n--) s += PIECES[Math.floor(rand() * PIECES.length)]!;
  return s;
}

/** A chat-shaped value: messages with string or content-part content, tool calls, odd keys, numbers, nulls. */
function value(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.35) return r < 0.05 ? null : r < 0.1 ? rand() * 1e6 : r < 0.12 ? true : text(rand);
  if (r < 0.55) return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth + 1));
  if (r < 0.7) return { role: 'user', content: [{ type: 'text', text: text(rand) }, { type: 'image_url', image_url: { url: rand() < 0.5 ? 'data:image/png;base64,AAAA' : text(rand) } }] };
  if (r < 0.75) return { role: 'user', content: [{ type: 'input_audio', input_audio: { data: text(rand), format: 'wav' } }, { type: 'file', file: { file_data: text(rand), filename: text(rand) } }] };
  if (r < 0.8) return { role: 'assistant', tool_calls: [{ id: text(rand), type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ email: text(rand), n: 2 }) } }] };
  const o: Record<string, unknown> = {};
  for (let n = Math.floor(rand() * 4); n > 0; n--) o[rand() < 0.2 ? String(Math.floor(rand() * 10)) : text(rand)] = value(rand, depth + 1);
  return o;
}

describe('redaction counts', () => {
  // A pattern's name is a tenant's: counted on a plain object, `constructor` read Object.prototype's and the capture's counts were not JSON.
  it('counts a custom pattern named like an Object.prototype member as a number, and writes them as JSON', () => {
    const compiled = compileDetectors({ detectors: [], customPatterns: [{ name: 'constructor', pattern: 'EMP-[0-9]{6}' }, { name: 'valueOf', pattern: 'ID-[0-9]{4}' }] });
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const r = compiled.detectors.redact('EMP-123456 EMP-654321 ID-1234');
    expect(r.counts).toEqual({ constructor: 2, valueOf: 1 });
    const tally: RedactionTally = { counts: {}, unscanned: false };
    redactJsonText(JSON.stringify({ a: 'EMP-123456 ID-1234', b: ['EMP-123456'] }), compiled.detectors, tally);
    expect(JSON.parse(countsJson(tally.counts))).toEqual({ constructor: 2, valueOf: 1 });
  });
});

describe('redactJsonText', () => {
  const sets: [string, DetectorSet | undefined][] = [
    ['every detector', compile()],
    ['a match cap of 2 (unscanned tails)', compile({ maxMatches: 2 })],
    // Cuts that split surrogate pairs: the cut value is escaped as JSON.stringify would.
    ['an input cap of 7 (cut values)', compile({ maxInputLength: 7 })],
    ['no detectors (Full: only binary dropped)', undefined],
  ];
  it.each(sets)('gives the object walk’s text, counts and unscanned flag over 200 generated values, %s', (_name, detectors) => {
    const rand = seededRandom(16);
    for (let i = 0; i < 200; i++) {
      const v = { messages: [value(rand, 0), { role: 'user', content: text(rand) }], tools: value(rand, 1) };
      const walked: RedactionTally = { counts: {}, unscanned: false };
      const scanned: RedactionTally = { counts: {}, unscanned: false };
      const expected = walkRedaction(v, detectors, walked);
      expect(redactJsonText(JSON.stringify(v), detectors, scanned), `case ${i}`).toBe(expected);
      expect(JSON.stringify(scanned), `case ${i}`).toBe(JSON.stringify(walked));
    }
  });

  it('keeps no inline binary: raw base64 audio and files, data: URLs with parameters, long base64 anywhere; ids and short values stay', () => {
    const audio = Buffer.alloc(600, 7).toString('base64');
    const body = {
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: audio, format: 'wav' } }] },
        { role: 'user', content: [{ type: 'file', file: { file_data: Buffer.from('%PDF-1.7 ann.lee@example.com').toString('base64'), filename: 'a.pdf' } }] },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;name=scan.png;base64,iVBORw0KGgoAAAANSUhEUg' } }] },
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB' } }] },
        { role: 'assistant', content: 'ok', tool_calls: [{ id: 'call_abcdefghijklmnopqrstuvwxyz012345', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'user', content: 'x'.repeat(300) },
      ],
      metadata: { data: 'short' },
    };
    const tally: RedactionTally = { counts: {}, unscanned: false };
    const out = JSON.parse(redactJsonText(JSON.stringify(body), undefined, tally)) as typeof body;
    const parts = out.messages.map((m) => (Array.isArray(m.content) ? m.content[0] : m.content));
    expect(parts[0]).toEqual({ type: 'input_audio', input_audio: { data: `[BINARY ${audio.length} chars omitted]`, format: 'wav' } });
    expect(JSON.stringify(parts[1])).toMatch(/"file_data":"\[BINARY \d+ chars omitted\]","filename":"a.pdf"/);
    expect(parts[2]).toEqual({ type: 'image_url', image_url: { url: '[BINARY 58 chars omitted]' } });
    expect(parts[3]).toMatchObject({ source: { data: '[BINARY 32 chars omitted]' } });
    // An id looks like base64 but is short and not under a payload key; a long run of one letter is base64.
    expect(out.messages[4]?.tool_calls?.[0]?.id).toBe('call_abcdefghijklmnopqrstuvwxyz012345');
    expect(parts[5]).toBe('[BINARY 300 chars omitted]');
    expect(out.metadata).toEqual({ data: 'short' });
  });

  it('a value cut at the input cap in the middle of a surrogate pair is written as JSON.stringify writes it (the half escaped)', () => {
    const tally: RedactionTally = { counts: {}, unscanned: false };
    const json = JSON.stringify({ content: 'abcdef😀 and more' });
    const expected = JSON.stringify({ content: 'abcdef\ud83d[UNSCANNED]' });
    expect(expected).toContain('\\ud83d');
    expect(redactJsonText(json, compile({ maxInputLength: 7 }), tally)).toBe(expected);
    expect(tally.unscanned).toBe(true);
  });

  it('a private key whose body is cut at its bound in the middle of a surrogate pair leaves the other half escaped, as JSON.stringify writes it', () => {
    const v = { content: `-----BEGIN PRIVATE KEY-----${'a'.repeat(16_383)}😀 rest` };
    const walked: RedactionTally = { counts: {}, unscanned: false };
    const scanned: RedactionTally = { counts: {}, unscanned: false };
    const expected = walkRedaction(v, compile(), walked);
    expect(expected).toBe(JSON.stringify({ content: '[CREDENTIAL]\ude00 rest' }));
    expect(redactJsonText(JSON.stringify(v), compile(), scanned)).toBe(expected);
  });

  it('with a limit, stops after the string that takes the text past it: a prefix of the whole result, ending at a string\'s end', () => {
    const detectors = compile();
    const rand = seededRandom(17);
    for (let i = 0; i < 200; i++) {
      const json = JSON.stringify({ messages: [value(rand, 0), { role: 'user', content: text(rand) }, value(rand, 0)], tools: value(rand, 1) });
      const whole = redactJsonText(json, detectors, { counts: {}, unscanned: false });
      const limit = Math.floor(rand() * whole.length);
      const cut = redactJsonText(json, detectors, { counts: {}, unscanned: false }, limit);
      expect(whole.startsWith(cut), `case ${i}`).toBe(true);
      if (cut.length < whole.length) {
        expect(cut.length, `case ${i}`).toBeGreaterThan(limit);
        expect(cut.endsWith('"'), `case ${i}`).toBe(true);
      }
    }
  });

  it('with a limit, sends no more text through the detectors than the limit and one string: a 10 MiB prompt of 100 KiB messages is not redacted whole to keep 64 KiB', () => {
    const detectors = compile();
    let scanned = 0;
    const counting: DetectorSet = { ...detectors, redact: (s: string) => ((scanned += s.length), detectors.redact(s)) };
    const message = `mail ann.lee@example.com ${'words '.repeat(17_000)}`;
    const json = JSON.stringify({ messages: Array.from({ length: 100 }, () => ({ role: 'user', content: message })) });
    const cut = redactJsonText(json, counting, { counts: {}, unscanned: false }, 64 * 1024);
    expect(json.length).toBeGreaterThan(10_000_000);
    expect(scanned).toBeLessThan(64 * 1024 + message.length + 100);
    expect(cut.length).toBeGreaterThan(64 * 1024);
    expect(cut).not.toContain('ann.lee@example.com');
  });

  it('countsJson writes the counts as JSON.stringify does, integer-like names first', () => {
    const cases: Record<string, number>[] = [{}, { Email: 1 }, { Email: 2, PaymentCard: 1, 'employee-id': 3, '7': 1, Phone: 10 }];
    for (const counts of cases) expect(countsJson(counts)).toBe(JSON.stringify(counts));
  });

  it('redacts values, never keys, and leaves a text with nothing to change as the same string', () => {
    const detectors = compile();
    const tally: RedactionTally = { counts: {}, unscanned: false };
    expect(redactJsonText('{"a@b.example":"mail c@d.example","n":[1,"x\\"y"]}', detectors, tally)).toBe('{"a@b.example":"mail [EMAIL]","n":[1,"x\\"y"]}');
    expect(tally.counts).toEqual({ Email: 1 });
    const clean = '{"messages":[{"role":"user","content":"hello"}]}';
    expect(redactJsonText(clean, detectors, tally)).toBe(clean);
  });

  it('redacts JSON text inside a value (tool-call arguments, a tool result) by what its escapes spell; the record holds no hit', () => {
    const detectors = compile();
    const tally: RedactionTally = { counts: {}, unscanned: false };
    const body = {
      messages: [
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'send', arguments: '{"to":"ann\\u0040example.com","card":"4111\\u00201111\\u00201111\\u00201111"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"email":"bob\\u0040example.com"}' },
      ],
    };
    const out = JSON.parse(redactJsonText(JSON.stringify(body), detectors, tally)) as typeof body;
    expect(JSON.parse(out.messages[0]!.tool_calls![0]!.function.arguments)).toEqual({ to: '[EMAIL]', card: '[PAYMENT_CARD]' });
    expect(JSON.parse(out.messages[1]!.content!)).toEqual({ email: '[EMAIL]' });
    expect(tally).toEqual({ counts: { Email: 2, PaymentCard: 1 }, unscanned: false });
  });

  it('redacts look-alikes a reader reads through: a full-width or small at-sign, digits of other scripts, also spelled by escapes (before, each was recorded as sent)', () => {
    const detectors = compile();
    const tally: RedactionTally = { counts: {}, unscanned: false };
    const body = {
      messages: [
        { role: 'user', content: 'write to ann\uff20example.com or bob\ufe6bexample.com, card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'call', arguments: '{"phone":"+\\u06f4\\u06f4 \\u06f2\\u06f0 \\u06f7\\u06f9\\u06f4\\u06f6 \\u06f0\\u06f9\\u06f5\\u06f8"}' } }] },
      ],
    };
    const out = JSON.parse(redactJsonText(JSON.stringify(body), detectors, tally)) as typeof body;
    expect(out.messages[0]!.content).toBe('write to [EMAIL] or [EMAIL], card [PAYMENT_CARD]');
    expect(JSON.parse(out.messages[1]!.tool_calls![0]!.function.arguments)).toEqual({ phone: '[PHONE]' });
    expect(tally).toEqual({ counts: { Email: 2, PaymentCard: 1, Phone: 1 }, unscanned: false });
  });

  it('decodes escapes only up to the detectors’ input cap: the rest of a longer value is unscanned, never kept', () => {
    const detectors = compile({ maxInputLength: 40 });
    const tally: RedactionTally = { counts: {}, unscanned: false };
    const args = `{"to":"ann\\u0040example.com","pad":"${'x'.repeat(100)}"}`;
    const out = JSON.parse(redactJsonText(JSON.stringify({ arguments: args }), detectors, tally)) as { arguments: string };
    expect(out.arguments).not.toContain('ann');
    expect(out.arguments).not.toContain('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');
    expect(tally.unscanned).toBe(true);
  });

  describe('a message’s text parts, read as one text (before, each part was redacted alone and a value split across two was recorded as sent)', () => {
    const redactBody = <T>(body: T, detectors = compile()): { out: T; tally: RedactionTally } => {
      const tally: RedactionTally = { counts: {}, unscanned: false };
      return { out: JSON.parse(redactJsonText(JSON.stringify(body), detectors, tally)) as T, tally };
    };
    const texts = (parts: readonly { text?: string }[]): (string | undefined)[] => parts.map((p) => p.text);

    it('chat completions: a card number and an e-mail address split across adjacent text parts are redacted on both sides, each part keeping its own text', () => {
      const body = {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'card 4111 1111' },
              { type: 'text', text: ' 1111 1111 and mail ann.lee@exam' },
              { type: 'text', text: 'ple.com, thanks' },
            ],
          },
        ],
      };
      const { out, tally } = redactBody(body);
      expect(texts(out.messages[0]!.content)).toEqual(['card [PAYMENT_CARD]', ' and mail [EMAIL]', ', thanks']);
      expect(tally).toEqual({ counts: { PaymentCard: 1, Email: 1 }, unscanned: false });
    });

    it('a match over three parts empties the middle one; the marker stands where the match starts', () => {
      const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'pay 4111' }, { type: 'text', text: ' 1111 1111' }, { type: 'text', text: ' 1111 now' }] }] };
      const { out, tally } = redactBody(body);
      expect(texts(out.messages[0]!.content)).toEqual(['pay [PAYMENT_CARD]', '', ' now']);
      expect(tally.counts).toEqual({ PaymentCard: 1 });
    });

    it('Anthropic Messages: content blocks and system blocks (other members around the text: cache_control, citations) are joined', () => {
      const body = {
        system: [
          { type: 'text', text: 'Escalate to ops.lead@exa' },
          { type: 'text', text: 'mple.com', cache_control: { type: 'ephemeral' } },
        ],
        messages: [
          { role: 'user', content: [{ type: 'text', cache_control: { type: 'ephemeral' }, text: 'my card is 4111 1111 1111' }, { type: 'text', text: ' 1111, call me' }] },
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'the user wrote bob@', signature: 'c2ln' }, { type: 'text', text: 'example.org earlier' }] },
        ],
      };
      const { out, tally } = redactBody(body);
      expect(texts(out.system)).toEqual(['Escalate to [EMAIL]', '']);
      expect(texts(out.messages[0]!.content)).toEqual(['my card is [PAYMENT_CARD]', ', call me']);
      expect(out.messages[1]!.content[0]).toMatchObject({ thinking: 'the user wrote [EMAIL]', signature: 'c2ln' });
      expect(out.messages[1]!.content[1]!.text).toBe(' earlier');
      expect(tally.counts).toEqual({ Email: 2, PaymentCard: 1 });
    });

    it('Responses: input items’ input_text parts and an output message’s output_text parts (annotations between) are joined', () => {
      const request = {
        instructions: 'be brief',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'ship to carol@' }, { type: 'input_text', text: 'example.net please' }] },
          { type: 'function_call_output', call_id: 'c1', output: 'ok' },
        ],
      };
      const response = {
        output: [
          { type: 'reasoning', summary: [] },
          {
            type: 'message',
            role: 'assistant',
            content: [
              { type: 'output_text', text: 'Your card 4111 1111', annotations: [{ type: 'url_citation', url: 'https://example.com/a', title: 'A' }] },
              { type: 'output_text', text: ' 1111 1111 is on file', annotations: [] },
            ],
          },
        ],
      };
      const r = redactBody(request);
      expect(texts(r.out.input[0]!.content!)).toEqual(['ship to [EMAIL]', ' please']);
      expect(r.tally.counts).toEqual({ Email: 1 });
      const a = redactBody(response);
      expect(texts(a.out.output[1]!.content!)).toEqual(['Your card [PAYMENT_CARD]', ' is on file']);
      expect(a.out.output[1]!.content![0]!.annotations).toEqual(response.output[1]!.content![0]!.annotations);
      expect(a.tally.counts).toEqual({ PaymentCard: 1 });
    });

    it('parts with escapes (newlines, quotes, JSON text by its \\u escapes) are joined by the text they spell', () => {
      const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'say "hi"\nto dave@' }, { type: 'text', text: 'example.com\t{"k":"v\\u0040x"}' }] }] };
      const { out, tally } = redactBody(body);
      expect(texts(out.messages[0]!.content)).toEqual(['say "hi"\nto [EMAIL]', '\t{"k":"v\\u0040x"}']);
      expect(tally.counts).toEqual({ Email: 1 });
    });

    it('a part’s own matches stay found where joining hides them (digits run on), and a match that runs on over the boundary redacts both sides', () => {
      const body = {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'card 4111 1111 1111 1111' }, { type: 'text', text: '2345 is the order' }] },
          { role: 'user', content: [{ type: 'text', text: 'mail ann@example.com' }, { type: 'text', text: 'and more' }] },
        ],
      };
      const { out, tally } = redactBody(body);
      expect(out.messages[0]!.content[0]!.text).toBe('card [PAYMENT_CARD]');
      expect(out.messages[0]!.content[1]!.text).toBe('2345 is the order');
      // The joined text reads `ann@example.comand`: one address over the boundary, counted once.
      expect(texts(out.messages[1]!.content)).toEqual(['mail [EMAIL]', ' more']);
      expect(tally.counts).toEqual({ PaymentCard: 1, Email: 1 });
    });

    it('joins only adjacent text parts of one message: not across messages, nor across an image between parts', () => {
      const body = {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'card 4111 1111' }] },
          { role: 'user', content: [{ type: 'text', text: ' 1111 1111' }, { type: 'image_url', image_url: { url: 'https://example.com/i.png' } }, { type: 'text', text: ' 1111 1111' }] },
        ],
      };
      const json = JSON.stringify(body);
      expect(redactJsonText(json, compile(), { counts: {}, unscanned: false })).toBe(json);
    });

    it('parts past the 1 MiB one run reads: the last part of a run starts the next, so every boundary is read', () => {
      const prose = 'words '.repeat(100_000);
      const body = { messages: [{ role: 'user', content: [{ type: 'text', text: `${prose}mail ann@` }, { type: 'text', text: `example.com ${prose}card 4111 1111` }, { type: 'text', text: ' 1111 1111 end' }] }] };
      const { out, tally } = redactBody(body);
      const [a, b, c] = texts(out.messages[0]!.content);
      expect(a!.endsWith('mail [EMAIL]')).toBe(true);
      expect(b).toBe(` ${prose}card [PAYMENT_CARD]`);
      expect(c).toBe(' end');
      expect(tally).toEqual({ counts: { Email: 1, PaymentCard: 1 }, unscanned: false });
    });

    it('a joined read stopped by the 1000-match cap goes on from there: a split value after many matches is still redacted', () => {
      const mails = 'mail a.b@example.com '.repeat(600);
      const body = { messages: [{ role: 'user', content: [{ type: 'text', text: mails }, { type: 'text', text: `${mails}card 4111 1111` }, { type: 'text', text: ' 1111 1111 end' }] }] };
      const { out, tally } = redactBody(body);
      const [, b, c] = texts(out.messages[0]!.content);
      expect(b!.endsWith('card [PAYMENT_CARD]')).toBe(true);
      expect(c).toBe(' end');
      expect(tally).toEqual({ counts: { Email: 1200, PaymentCard: 1 }, unscanned: false });
    });

    it('a message dense with matches costs linear work: the joined read goes on past its match cap a bounded number of times', () => {
      const detectors = compile();
      let scanned = 0;
      const counting: DetectorSet = { scan: (t, budget) => ((scanned += t.length), detectors.scan(t, budget)), redact: (t) => ((scanned += t.length), detectors.redact(t)) };
      const dense = 'mail a.b@example.com '.repeat(24_000);
      const json = JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'text', text: dense }, { type: 'text', text: dense }] }] });
      redactJsonText(json, counting, { counts: {}, unscanned: false });
      // Each part alone, then the parts joined at most 4 times (each pass reads the rest of the run): before the bound, ~48 passes.
      expect(scanned).toBeLessThanOrEqual(2 * dense.length + 4 * 2 * dense.length);
    });

    it('over 300 generated messages split at random places into text parts, the parts as recorded hold nothing the message read as one string has redacted', () => {
      const detectors = compile();
      const rand = seededRandom(27);
      const pii = ['ann.lee@example.com', '4111 1111 1111 1111', '+44 20 7946 0958', '10.1.2.3', 'GB82WEST12345698765432', 'sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD', 'EMP-123456', 'plain words ', ' 2024 ', ', ', '\n', 'é 漢字 '];
      for (let n = 0; n < 300; n++) {
        let message = '';
        // Pieces apart by a space: a marker then stands where its value stood, in the same context (one string's markers change it too: `ann@example.com+44…`).
        for (let k = 1 + Math.floor(rand() * 6); k > 0; k--) message += `${pii[Math.floor(rand() * pii.length)]!} `;
        const cuts = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => Math.floor(rand() * message.length)).sort((x, y) => x - y);
        const parts = [0, ...cuts].map((from, k) => message.slice(from, [...cuts, message.length][k]));
        const body = { messages: [{ role: 'user', content: parts.map((text) => ({ type: 'text', text })) }] };
        const tally: RedactionTally = { counts: {}, unscanned: false };
        const out = JSON.parse(redactJsonText(JSON.stringify(body), detectors, tally)) as typeof body;
        const recorded = out.messages[0]!.content.map((p) => p.text);
        expect(recorded, `case ${n}: ${JSON.stringify(parts)}`).toHaveLength(parts.length);
        // What the message read as one string has redacted is gone from the parts as recorded (they may redact more: a part alone can match where the join runs digits on).
        const occurrences = (text: string, value: string): number => text.split(value).length - 1;
        for (const f of detectors.scan(message).findings) {
          const found = message.slice(f.start, f.end);
          const left = occurrences(message, found) - detectors.scan(message).findings.filter((g) => message.slice(g.start, g.end) === found).length;
          expect(occurrences(recorded.join(''), found), `case ${n}: ${JSON.stringify(parts)} -> ${JSON.stringify(recorded)}`).toBeLessThanOrEqual(left);
        }
      }
    });

    it('reads the JSON text once however deeply text members nest (each look ahead ends at the next text member)', () => {
      const depth = 20_000;
      const json = `${'{"text":"a","x":'.repeat(depth)}null${'}'.repeat(depth)}`;
      const started = performance.now();
      expect(redactJsonText(json, compile(), { counts: {}, unscanned: false })).toBe(json);
      // Read again to each nesting's end, this was ~4·10⁹ characters: minutes, not milliseconds.
      expect(performance.now() - started).toBeLessThan(2000);
    });
  });
});
