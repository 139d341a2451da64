import { describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { BUILTIN_RULES, type BuiltinRule } from './builtin-rules.js';
import { compileUnfilteredDetectors, prefilterSource } from './detector-set.js';
import { fold, foldedAs, FOLDED, LOOKALIKES, lookalikeAs, unfoldAt } from './text-fold.js';
import { holdsOne, MOST_DIGITS_ASKED, newTextShape, SHAPE_MAX_LENGTH, textShape } from './text-shape.js';
import { ibanChecksumValid, luhnValid, spanishIdValid, verhoeffValid } from './checksums.js';
import { BUILTIN_DETECTORS, compileDetectors, DEFAULT_PATTERN_WORK, PatternBudget, UNSCANNED_MARKER, type DetectorSet, type DetectorSpec } from './index.js';

function detectorsFor(spec: DetectorSpec): DetectorSet {
  const result = compileDetectors(spec);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.detectors;
}

const all = detectorsFor({ detectors: BUILTIN_DETECTORS });
const redact = (text: string): string => all.redact(text).text;
const typesIn = (text: string): string[] => all.scan(text).findings.map((f) => f.type);

describe('checksums', () => {
  it('Luhn accepts test card numbers and rejects a changed digit', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('')).toBe(false);
  });
  it('IBAN mod 97', () => {
    expect(ibanChecksumValid('DE89370400440532013000')).toBe(true);
    expect(ibanChecksumValid('DE89370400440532013001')).toBe(false);
  });
  it('Verhoeff and DNI letters', () => {
    expect(verhoeffValid('2363')).toBe(true);
    expect(verhoeffValid('2364')).toBe(false);
    expect(spanishIdValid('12345678Z')).toBe(true);
    expect(spanishIdValid('12345678A')).toBe(false);
    expect(spanishIdValid('X1234567L')).toBe(true);
  });
});

/** [type, text, redacted]: every built-in rule matches at least one. */
const POSITIVES: Array<[string, string, string]> = [
  ['Email', 'write to jane.doe+tag@mail.example.co.uk today', 'write to [EMAIL] today'],
  ['Email', 'bob@example.com.', '[EMAIL].'],
  ['Phone', 'call +1 (415) 555-2671 now', 'call [PHONE] now'],
  ['Phone', 'ring +442079460958.', 'ring [PHONE].'],
  ['Phone', 'ring +44 20 7946 0958', 'ring [PHONE]'],
  ['Phone', 'ring +49 (0)30 1234567', 'ring [PHONE]'],
  ['Phone', 'office: (415) 555-2671', 'office: [PHONE]'],
  ['Phone', 'office: 415.555.2671, or 1-800-555-0199', 'office: [PHONE], or [PHONE]'],
  ['PaymentCard', 'card 4111 1111 1111 1111 exp 12/29', 'card [PAYMENT_CARD] exp 12/29'],
  ['PaymentCard', 'card 5555-5555-5555-4444', 'card [PAYMENT_CARD]'],
  ['PaymentCard', 'amex 378282246310005', 'amex [PAYMENT_CARD]'],
  ['PaymentCard', 'card 4111 1111 1111 1111 2024', 'card [PAYMENT_CARD] 2024'],
  ['IBAN', 'IBAN DE89 3704 0044 0532 0130 00 THANKS', 'IBAN [IBAN] THANKS'],
  ['IBAN', 'to GB82WEST12345698765432.', 'to [IBAN].'],
  ['NationalID', 'SSN 078-05-1120', 'SSN [NATIONAL_ID]'],
  ['NationalID', 'NI number AB 12 34 56 C', 'NI number [NATIONAL_ID]'],
  ['NationalID', 'SIN 130 692 544', 'SIN [NATIONAL_ID]'],
  ['NationalID', 'DNI 12345678Z', 'DNI [NATIONAL_ID]'],
  ['NationalID', 'Aadhaar 2345 6789 0124', 'Aadhaar [NATIONAL_ID]'],
  ['IPAddress', 'from 192.168.10.254.', 'from [IP_ADDRESS].'],
  ['IPAddress', 'v6 2001:db8::8a2e:370:7334 and ::1 and fe80::1', 'v6 [IP_ADDRESS] and ::1 and fe80::1'],
  ['IPAddress', 'full fe80:0000:0000:0000:0202:b3ff:fe1e:8329', 'full [IP_ADDRESS]'],
  ['Credential', 'key sk-proj-AbCdEf0123456789GhIjKlMnOpQr', 'key [CREDENTIAL]'],
  ['Credential', `key sk-ant-api03-${'a1B2'.repeat(24)}-xyzAA`, 'key [CREDENTIAL]'],
  ['Credential', 'Authorization: Bearer abcDEF123456ghiJKL789.tok', 'Authorization: [CREDENTIAL]'],
  ['Credential', 'Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: [CREDENTIAL]'],
  ['Credential', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end', 'jwt [CREDENTIAL] end'],
  ['Credential', 'aws AKIAIOSFODNN7EXAMPLE ok', 'aws [CREDENTIAL] ok'],
  ['Credential', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '[CREDENTIAL]'],
  ['Credential', 'github ghp_0123456789abcdefghijABCDEFGHIJ012345 x', 'github [CREDENTIAL] x'],
  ['Credential', 'stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'stripe [CREDENTIAL]'],
  ['Credential', 'slack xoxb-123456789012-abcdefGHIJ', 'slack [CREDENTIAL]'],
  ['Credential', 'google AIzaSyA1234567890abcdefghijklmnopqrstuv', 'google [CREDENTIAL]'],
  ['Credential', 'hf hf_abcdefghijklmnopqrstuvwxyz0123456789', 'hf [CREDENTIAL]'],
  ['Credential', 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=' + 'A1b2'.repeat(22) + '==;', 'DefaultEndpointsProtocol=https;AccountName=x;[CREDENTIAL];'],
  [
    'Credential',
    'here:\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy\n-----END RSA PRIVATE KEY-----\nthanks',
    'here:\n[CREDENTIAL]\nthanks',
  ],
  ['Credential', 'cut: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA', 'cut: [CREDENTIAL]'],
];

describe('true positives: each is replaced by its typed marker', () => {
  it.each(POSITIVES)('%s: %s', (type, input, expected) => {
    expect(redact(input)).toBe(expected);
    expect(typesIn(input)).toContain(type);
  });
});

describe('false positives: look-alikes stay as they are', () => {
  const clean = [
    'card 4111 1111 1111 1112 fails Luhn',
    'order 1234567890123 fails Luhn and prefix',
    '0000 0000 0000 0000 is Luhn-valid but no issuer starts with 0',
    'pi is 3.14159265358979323846',
    'IBAN DE89 3704 0044 0532 0130 01 has a bad checksum',
    'XX89370400440532013000 is not a country',
    'version 1.2.3 and 10.0 and 256.1.1.1 and 1.2.3.456',
    'at 10:30:45 we met; std::vector and a::b are code; MAC 00:1a:2b:3c:4d:5e',
    'SSN-like 000-12-3456 and 666-12-3456 and 123-00-4567',
    'numbers 123-456-7890 (NANP area code cannot start with 1)',
    'dates 2024-01-15 and 15/01/2024, price $1,234.56',
    'the sk-learn library and sk-this-is-just-a-long-hyphenated-phrase',
    'a bearer of bad news; basic understanding of things',
    'email without domain: user@localhost, or @mention, or a@b',
    'score +5 points',
    'DNI 12345678A has the wrong letter',
    'a uuid 123e4567-e89b-12d3-a456-426614174000',
    'hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  ];
  it.each(clean)('%s', (text) => {
    expect(all.scan(text).findings).toEqual([]);
    expect(redact(text)).toBe(text);
  });
});

describe('detector selection and custom patterns', () => {
  it('runs only the chosen detectors', () => {
    const emailOnly = detectorsFor({ detectors: ['Email'] });
    expect(emailOnly.redact('a@example.com 4111111111111111').text).toBe('[EMAIL] 4111111111111111');
  });

  it('replaces custom-pattern matches with the upper-cased name and counts them', () => {
    const d = detectorsFor({ detectors: [], customPatterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }] });
    const result = d.redact('EMP-123456 and EMP-654321, not EMP-12');
    expect(result.text).toBe('[EMPLOYEE_ID] and [EMPLOYEE_ID], not EMP-12');
    expect(result.counts).toEqual({ 'employee-id': 2 });
    expect(result.complete).toBe(true);
  });

  it('reports custom matches at UTF-16 positions after non-ASCII text', () => {
    const d = detectorsFor({ detectors: ['Email'], customPatterns: [{ name: 'ticket', pattern: '(?i)ticket #[0-9]+' }] });
    expect(d.redact('Grüße 😀 — TICKET #42 from zoë@example.com').text).toBe('Grüße 😀 — [TICKET] from [EMAIL]');
  });

  it('refuses bad specs, naming each field', () => {
    const result = compileDetectors({
      detectors: ['Email', 'Passport'],
      customPatterns: [
        { name: 'ok', pattern: 'a(b' },
        { name: 'backref', pattern: '(a)\\1' },
        { name: 'empty', pattern: 'x*' },
        { name: '1bad', pattern: 'x' },
        { name: 'big', pattern: '[a-z]{1000}[0-9]{1000}[A-Z]{1000}' },
        { name: 'ok2', pattern: 'q' },
        { name: 'ok2', pattern: 'r' },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual([
      'detectors[1]',
      'customPatterns[0].pattern',
      'customPatterns[1].pattern',
      'customPatterns[2].pattern',
      'customPatterns[3].name',
      'customPatterns[4].pattern',
      'customPatterns[6].name',
    ]);
    expect(result.errors[0]!.message).toContain('unknown detector "Passport"');
    expect(result.errors[5]!.message).toContain('too complex');
  });
});

describe('overlaps and bounds', () => {
  it('merges overlapping matches so no part of either survives', () => {
    const d = detectorsFor({ detectors: ['Email'], customPatterns: [{ name: 'domain', pattern: 'example\\.com/[a-z]+' }] });
    expect(d.redact('x jo@example.com/path y').text).toBe('x [EMAIL] y');
  });

  it('a span two rules match exactly goes to the earlier rule: built-ins before custom patterns, custom patterns in their order', () => {
    const d = detectorsFor({
      detectors: ['Email'],
      customPatterns: [
        { name: 'mail', pattern: '[a-z]+@example\\.com' },
        { name: 'ticket', pattern: 'T-[0-9]{4}' },
        { name: 'ticket-too', pattern: 'T-[0-9]{4}' },
      ],
    });
    const result = d.redact('from jo@example.com about T-1234 and T-5678 and ann@example.com');
    expect(result.text).toBe('from [EMAIL] about [TICKET] and [TICKET] and [EMAIL]');
    expect(result.counts).toEqual({ Email: 2, ticket: 2 });
    const reversed = detectorsFor({ detectors: [], customPatterns: [{ name: 'ticket-too', pattern: 'T-[0-9]{4}' }, { name: 'ticket', pattern: 'T-[0-9]{4}' }] });
    expect(reversed.redact('T-1234 T-5678').text).toBe('[TICKET_TOO] [TICKET_TOO]');
  });

  it('at one start the longest match wins over an earlier rule\'s shorter one, with few matches and with many (two sort paths)', () => {
    const d = detectorsFor({ detectors: [], customPatterns: [{ name: 'short', pattern: 'ab' }, { name: 'long', pattern: 'abcd' }, { name: 'mid', pattern: 'bc' }] });
    for (const n of [1, 3, 5, 12]) {
      const result = d.redact('x abcd '.repeat(n));
      expect(result.text).toBe('x [LONG] '.repeat(n));
      expect(result.counts).toEqual({ long: n });
    }
  });

  it('stops at the match cap and drops the unscanned rest instead of passing it through', () => {
    const d = detectorsFor({ detectors: ['Email'], limits: { maxMatches: 3 } });
    const text = Array.from({ length: 6 }, (_, i) => `u${i}@example.com`).join(' ');
    const result = d.redact(text);
    expect(result.text).toBe(`[EMAIL] [EMAIL] [EMAIL]${UNSCANNED_MARKER}`);
    expect(result.complete).toBe(false);
    expect(result.counts).toEqual({ Email: 3 });
  });

  it('scans only up to the input cap and marks the rest unscanned', () => {
    const d = detectorsFor({ detectors: ['Email'], limits: { maxInputLength: 20 } });
    const result = d.redact('hello a@example.com and then b@example.com');
    expect(result.text).toBe(`hello [EMAIL] ${UNSCANNED_MARKER}`);
    expect(result.complete).toBe(false);
    expect(all.scan('a@example.com').complete).toBe(true);
  });

  it('every built-in pattern uses only bounded quantifiers, so each match attempt has a constant bound', () => {
    for (const rule of BUILTIN_RULES) {
      // Strip escapes and character classes first: a literal "+" or "*" inside them is no quantifier.
      const structure = rule.pattern.source.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
      expect(structure, rule.pattern.source).not.toMatch(/[*+]|\{\d+,\}/);
      expect(rule.pattern.flags).toContain('g');
    }
  });

  it('every built-in rule has the same fields in the same order (one hidden class: the scan reads them at monomorphic sites)', () => {
    const layout = Object.keys(BUILTIN_RULES[0]!);
    expect(layout).toEqual(['detector', 'pattern', 'requires', 'needsDigit', 'minDigits', 'hint', 'shape', 'oneOf', 'anchor', 'digitAnchor', 'validate']);
    for (const rule of BUILTIN_RULES) expect(Object.keys(rule), rule.pattern.source).toEqual(layout);
  });

  it('redact runs the combined pre-filter once on a text it passes (scanText does not test it again)', () => {
    const combined = prefilterSource(BUILTIN_RULES);
    const test = vi.spyOn(RegExp.prototype, 'test');
    try {
      all.redact('card 4111 1111 1111 1111 from ann.lee@example.com');
      // The skip test is the combined pre-filter with the characters text-fold.ts folds beside it.
      expect(test.mock.contexts.filter((re) => (re as RegExp).source === `${combined}|${FOLDED.source}` || (re as RegExp).source === combined)).toHaveLength(1);
    } finally {
      test.mockRestore();
    }
  });

  it('the pre-filters (combined, each rule\'s hint and digit count) pass every text a built-in rule matches, so skipping on them hides nothing', () => {
    const texts = [
      ...POSITIVES.map(([, text]) => text),
      'key ASIAABCDEFGHIJKLMNOP here', // no digit
      'AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', // upper case (the rule ignores case)
      `gitlab glpat-${'abcdefghij'.repeat(2)}x and github_pat_${'abcdefghij'.repeat(3)}`,
      `gitlab glpat-${'abcdefghij'.repeat(2)}x alone`, // no '_'
      `xai-${'a1'.repeat(20)}`, // no '_'
      `pplx-${'b2'.repeat(20)}`,
    ];
    expect(prefilterSource(BUILTIN_RULES)).toBeDefined();
    for (const rule of BUILTIN_RULES) {
      const filters = [prefilterSource([rule])!, ...(rule.hint === undefined ? [] : [rule.hint])].map((source) => new RegExp(source));
      let matched = 0;
      for (const text of texts) {
        for (const m of text.matchAll(new RegExp(rule.pattern))) {
          if (rule.validate !== undefined && rule.validate(text, m.index, m.index + m[0].length) === undefined) continue;
          matched++;
          for (const filter of filters) expect(filter.test(text), `${rule.pattern.source} matched ${m[0]} in a text its pre-filter ${filter.source} skips`).toBe(true);
          if (rule.requires !== undefined) expect(rule.requires.some((needle) => text.includes(needle)), `${rule.pattern.source} matched ${m[0]} in a text without any of ${rule.requires.join(', ')}`).toBe(true);
          const span = rule.validate?.(text, m.index, m.index + m[0].length) ?? [m.index, m.index + m[0].length];
          expect(text.slice(span[0], span[1]).replace(/\D/g, '').length, `${m[0]} has fewer digits than ${rule.pattern.source}'s minDigits`).toBeGreaterThanOrEqual(rule.minDigits ?? 0);
          // The shape and characters of the match alone: what the rule needs is in the match itself.
          const shape = textShape(m[0], newTextShape());
          expect(shape.bits & (rule.shape ?? 0), `${m[0]} lacks the shape ${rule.shape} of ${rule.pattern.source}`).toBe(rule.shape ?? 0);
          if (rule.oneOf !== undefined) expect(holdsOne(shape, rule.oneOf), `${m[0]} holds none of ${rule.oneOf}`).toBe(true);
        }
      }
      expect(matched, `no test text exercises ${rule.pattern.source}`).toBeGreaterThan(0);
      expect(rule.minDigits ?? 0).toBeLessThanOrEqual(MOST_DIGITS_ASKED);
    }
  });

  it('an anchored rule (e-mail: tried only where an "@" says a match can start) finds exactly what its pattern finds tried everywhere', () => {
    // Texts from an alphabet of the pattern's edge cases: local-part and domain characters, an
    // astral letter (a surrogate pair), a lone surrogate, separators; a fixed seed, so every run is the same.
    const alphabet = ['jo', 'Z', '7', '.', '_', '%', '+', '-', '@', '@', ' ', ' ', ',', 'ü', '𝒜', '\ud800', '.com', '.de ', 'x'.repeat(30), 'ex-ample', 'jo.doe', '@ex.de ', 'a@ex-ample.com,'];
    const next = seededRandom(7);
    const random = (n: number): number => Math.floor(next() * n);
    const texts = ['', 'jo@example.com', 'a@b.co@c.org', `${'a'.repeat(64)}@x.io ${'b'.repeat(65)}@x.io`, 'zoë@exämple.de, 𝒜b@𝒜.de', ...POSITIVES.map(([, t]) => t)];
    for (let i = 0; i < 4000; i++) texts.push(Array.from({ length: 1 + random(20) }, () => alphabet[random(alphabet.length)]).join(''));
    const email = detectorsFor({ detectors: ['Email'] });
    const rule = BUILTIN_RULES.find((r) => r.anchor !== undefined)!;
    let found = 0;
    for (const text of texts) {
      const everywhere = [...text.matchAll(new RegExp(rule.pattern))].map((m) => [m.index, m.index + m[0].length]);
      const anchored = email.scan(text).findings.map((f) => [f.start, f.end]);
      expect(anchored, JSON.stringify(text)).toEqual(everywhere);
      found += everywhere.length;
    }
    expect(found).toBeGreaterThan(1000);
  });

  it('a digit rule\'s anchor holds for every place its pattern matches: lead, the characters around the first run, its length and its chain', () => {
    // Digit runs of every length, joined by each separator the patterns allow and some they do not,
    // with the letters and signs that may lead a match; a fixed seed.
    const alphabet = [
      '0', '1', '2', '4', '7', '9', '12', '123', '4111', '2345', '12345', '1234567', '12345678', '4111111111111', '378282246310005', '4111111111111111',
      ' ', ' ', '-', '-', '.', '+', '(', ')', ':', '/', 'x', 'X', 'Y', 'Z', 'A', 'AB', 'AB ', 'DE', 'GB', 'C', 'L', 'WEST', '\n',
      '4111 1111 1111 1111', '2345 6789 0124', '078-05-1120', '130 692 544', '(415) 555-2671', '1-800-555-0199', '+44 20 7946 0958', '192.168.1.254',
      'AB 12 34 56 C', 'JK123456D', 'CE', '56', 'D', '12345678Z', 'X1234567L', 'Y1234567', 'Z1234567-C', 'DE89 3704 0044 0532 0130 00',
    ];
    const next = seededRandom(31);
    const random = (n: number): number => Math.floor(next() * n);
    const texts = POSITIVES.map(([, t]) => t);
    for (let i = 0; i < 3000; i++) texts.push(Array.from({ length: 1 + random(14) }, () => alphabet[random(alphabet.length)]).join(''));
    const anchored = BUILTIN_RULES.filter((r) => r.digitAnchor !== undefined);
    expect(anchored.length).toBeGreaterThanOrEqual(10);
    const matchesPer = new Map<BuiltinRule, number>();
    for (const rule of anchored) {
      const anchor = rule.digitAnchor!;
      expect(anchor.lead[1] - anchor.lead[0], `${rule.pattern.source}: candidates of successive runs out of order`).toBeLessThanOrEqual(1);
      const sticky = new RegExp(rule.pattern.source, rule.pattern.flags.replace('g', 'y'));
      for (const text of texts) {
        const shape = textShape(text, newTextShape());
        for (let start = 0; start < text.length; start++) {
          sticky.lastIndex = start;
          const m = sticky.exec(text);
          if (m === null) continue;
          matchesPer.set(rule, (matchesPer.get(rule) ?? 0) + 1);
          const where = `${rule.pattern.source} matched ${JSON.stringify(m[0])} at ${start} in ${JSON.stringify(text)}`;
          const first = m[0].search(/\d/) + start;
          expect(first, where).toBeGreaterThanOrEqual(start);
          expect(first - start, `${where}: lead`).toBeGreaterThanOrEqual(anchor.lead[0]);
          expect(first - start, `${where}: lead`).toBeLessThanOrEqual(anchor.lead[1]);
          if (first > start) expect(anchor.before, `${where}: character before the digit`).toContain(text[first - 1]);
          const k = Array.from(shape.runStart.subarray(0, shape.runs)).indexOf(first);
          expect(k, `${where}: the first digit starts no run`).toBeGreaterThanOrEqual(0);
          expect(shape.runLength[k], `${where}: run length`).toBeGreaterThanOrEqual(anchor.run[0]);
          expect(shape.runLength[k], `${where}: run length`).toBeLessThanOrEqual(anchor.run[1]);
          expect(shape.chainRest[k], `${where}: chain`).toBeGreaterThanOrEqual(anchor.chain);
          const after = text[first + shape.runLength[k]!];
          if (anchor.after !== '') expect(after !== undefined && anchor.after.includes(after), `${where}: character after the run`).toBe(true);
        }
      }
      // Each anchor is tested on matches, and on more than a handful.
      expect(matchesPer.get(rule) ?? 0, `no test text exercises ${rule.pattern.source}`).toBeGreaterThan(20);
    }
  });

  it('the shape pass lists every digit run, its length and the digits left in its chain', () => {
    const next = seededRandom(37);
    const alphabet = ['1', '23', '456', ' ', ' ', '-', '.', 'a', '+', '  ', '--', ' -'];
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 20) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      const shape = textShape(text, newTextShape());
      const runs = [...text.matchAll(/\d+/g)];
      // A chain: digit runs joined by one space or dash each (the shape pass's GROUP13 chain).
      const chains = [...text.matchAll(/\d+(?:[ -]\d+)*/g)];
      const rest = runs.map((r) => {
        const chain = chains.find((c) => c.index <= r.index && r.index < c.index + c[0].length)!;
        return chain[0].slice(r.index - chain.index).replace(/\D/g, '').length;
      });
      const listed = Array.from({ length: shape.runs }, (_, k) => [shape.runStart[k], shape.runLength[k], shape.chainRest[k]]);
      expect(listed, JSON.stringify(text)).toEqual(runs.map((r, k) => [r.index, r[0].length, rest[k]]));
    }
    expect(textShape('1'.repeat(SHAPE_MAX_LENGTH + 1), newTextShape()).runs).toBe(-1);
  });

  it('a digit rule that has tried its anchor too often goes on with its global pattern and finds the same matches', () => {
    // Texts up to SHAPE_MAX_LENGTH (the run tables exist) dense with candidates of every digit
    // rule, so that each passes its bound on tries mid-text; a fixed seed.
    const alphabet = ['1.2 ', '10.0.0.1 ', '192.168.1.254 ', '4111 1111 1111 1111 ', '4111 ', '2345 6789 0124 ', '078-05-1120 ', '123 456 789 ', '130 692 544 ',
      '(415) 555-2671 ', '415-555-2671 ', '+44 20 7946 0958 ', '+1 ', '12345678Z ', 'X1234567L ', 'AB 12 34 56 C ', 'DE89 3704 0044 0532 0130 00 ', 'GB82WEST12345698765432 ', 'x '];
    const next = seededRandom(41);
    const random = (n: number): number => Math.floor(next() * n);
    const spec = { detectors: BUILTIN_DETECTORS };
    const filtered = detectorsFor(spec);
    const reference = compileUnfilteredDetectors(spec);
    if (!reference.ok) throw new Error(JSON.stringify(reference.errors));
    let findings = 0;
    for (let i = 0; i < 60; i++) {
      let text = '';
      while (text.length < 300 + random(SHAPE_MAX_LENGTH - 400)) text += alphabet[random(alphabet.length)];
      expect(text.length).toBeLessThanOrEqual(SHAPE_MAX_LENGTH);
      const expected = reference.detectors.redact(text);
      expect(filtered.redact(text), JSON.stringify(text)).toEqual(expected);
      findings += Object.values(expected.counts).reduce((a, b) => a + b, 0);
    }
    expect(findings).toBeGreaterThan(60 * 20);
  });

  it('the pre-filters change nothing: seeded random texts redact exactly as with every rule run over every text', () => {
    // Fragments of every rule's matches and near-misses (digit runs of each length, separators,
    // upper-case letters before digits, credential prefixes), joined at random: a fixed seed.
    const alphabet = [
      '1', '12', '123', '4111', '12345', '1234567', '12345678', '4111111111111111', '0', '9',
      ' ', ' ', '-', '.', '+', '(', ')', ':', '@', '_', '=', '/', ',', '\n', 'x', 'ab', 'AB', 'DE', 'GB', 'X', 'Z', 'C', 'A',
      'ann.lee@example.com', 'jo@ex.de', '4111 1111 1111 1111', '5555-5555-5555-4444', '078-05-1120', 'AB 12 34 56 C',
      '130 692 544', '2345 6789 0124', '12345678Z', 'X1234567L', '192.168.1.254', '10.0', '+44 20 7946 0958', '+1 (415) 555-2671',
      '(415) 555-2671', '1-800-555-0199', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', '2001:db8::8a2e:370:7334',
      'fe80::1', 'sk-', 'sk-proj-AbCdEf0123456789GhIjKlMnOpQr', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'glpat-', 'AKIA',
      'AKIAIOSFODNN7EXAMPLE', 'aws_secret_access_key', 'AWS_SECRET_ACCESS_KEY: ', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'Bearer ', 'abcDEF123456ghiJKL789', 'Basic dXNlcjpwYXNzd29yZA==', 'eyJhbGciOiJIUzI1NiJ9', '.eyJzdWIiOiIxMjM0NTY3ODkwIn0', '.dozjgNryP4J3',
      'hf_abcdefghijklmnopqrstuvwxyz0123456789', 'xoxb-123456789012-abcdefGHIJ', 'AIzaSyA1234567890abcdefghijklmnopqrstuv', 'AccountKey=',
      'A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2A1b2', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'ü', '𝒜',
    ];
    const next = seededRandom(11);
    const random = (n: number): number => Math.floor(next() * n);
    const spec = { detectors: BUILTIN_DETECTORS, customPatterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }] };
    const filtered = detectorsFor(spec);
    const reference = compileUnfilteredDetectors(spec);
    if (!reference.ok) throw new Error(JSON.stringify(reference.errors));
    const texts = [...POSITIVES.map(([, t]) => t), 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.'];
    for (let i = 0; i < 6000; i++) texts.push(Array.from({ length: 1 + random(16) }, () => alphabet[random(alphabet.length)]).join(''));
    // Past the length the shape pass runs over: every rule is tried (only the digit counts skip).
    for (let i = 0; i < 40; i++) texts.push(Array.from({ length: SHAPE_MAX_LENGTH / 8 + random(SHAPE_MAX_LENGTH / 8) }, () => alphabet[random(alphabet.length)]).join(''));
    let changed = 0;
    for (const text of texts) {
      const expected = reference.detectors.redact(text);
      expect(filtered.redact(text), JSON.stringify(text)).toEqual(expected);
      if (expected.text !== text) changed++;
    }
    // Most texts hold something to redact: the comparison is not only of texts left as they were.
    expect(changed).toBeGreaterThan(3000);
  });

  it('the validators that read digits where they stand accept and narrow exactly as the string-based ones did', () => {
    // The string-based validators as they were (slice, regex replace), the reference.
    const digitsOf = (t: string): string => t.replace(/\D/g, '');
    const issuer = (d: string): boolean => {
      const two = Number(d.slice(0, 2));
      const four = Number(d.slice(0, 4));
      return d[0] === '2' ? four >= 2221 && four <= 2720 : d[0] === '3' ? [30, 34, 35, 36, 37, 38, 39].includes(two) : d[0] === '4' || d[0] === '6' || (d[0] === '5' && two >= 50 && two <= 59);
    };
    const card = (text: string, start: number, end: number): readonly [number, number] | undefined => {
      const raw = text.slice(start, end);
      const cuts = [raw.length];
      for (let i = raw.length - 1; i > 0; i--) if (raw[i] === ' ' || raw[i] === '-') cuts.push(i);
      for (const cut of cuts) {
        const digits = digitsOf(raw.slice(0, cut));
        if (digits.length >= 13 && digits.length <= 19 && issuer(digits) && luhnValid(digits)) return [start, start + cut];
      }
      return undefined;
    };
    const checkedBy = (check: (s: string) => boolean) => (text: string, start: number, end: number) => (check(text.slice(start, end).replace(/[^0-9A-Za-z]/g, '')) ? [start, end] : undefined);
    const nanp = (text: string, start: number, end: number) => {
      const digits = digitsOf(text.slice(start, end));
      const local = digits.length === 11 ? digits.slice(1) : digits;
      return local[0]! >= '2' && local[3]! >= '2' ? [start, end] : undefined;
    };
    const international = (text: string, start: number, end: number) => {
      const count = digitsOf(text.slice(start, end)).length;
      return count >= 8 && count <= 15 ? [start, end] : undefined;
    };
    const references: Array<[string, (text: string, start: number, end: number) => readonly number[] | undefined]> = [
      ['(?<![\\d.])(?:\\d[ -]?){12,18}\\d(?!\\d)', card],
      ['[1-79]\\d{2}[ -]\\d{3}', checkedBy(luhnValid)],
      ['[2-9]\\d{3}[ -]\\d{4}', checkedBy(verhoeffValid)],
      ['(?:\\d{8}|[XYZ]\\d{7})', checkedBy(spanishIdValid)],
      ['(?:1[ .-])?(?:\\(', nanp],
      ['\\+[1-9]', international],
    ];
    const alphabet = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '4111', '5555', '378282246310005', ' ', '-', '.', '(', ')', '+', 'X', 'Z', 'L', 'a'];
    const next = seededRandom(23);
    const random = (n: number): number => Math.floor(next() * n);
    const texts = ['4111 1111 1111 1111', '4111 1111 1111 1111 2024', '5555-5555-5555-4444', '130 692 544', '2345 6789 0124', '12345678Z', 'X1234567L', '(415) 555-2671', '1-800-555-0199', '+44 20 7946 0958'];
    for (let i = 0; i < 20_000; i++) texts.push(Array.from({ length: 1 + random(24) }, () => alphabet[random(alphabet.length)]).join(''));
    let accepted = 0;
    for (const [source, reference] of references) {
      const rule = BUILTIN_RULES.find((r) => r.pattern.source.includes(source) && r.validate !== undefined)!;
      expect(rule, source).toBeDefined();
      for (const text of texts) {
        const start = text.length > 3 ? random(3) : 0;
        const expected = reference(text, start, text.length);
        expect(rule.validate!(text, start, text.length), `${source} on ${JSON.stringify(text)} from ${start}`).toEqual(expected);
        if (expected !== undefined) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  it('runs custom patterns on texts the built-ins pre-filter skips', () => {
    const d = detectorsFor({ detectors: BUILTIN_DETECTORS, customPatterns: [{ name: 'employee', pattern: 'emp-[a-z]{3}' }] });
    expect(d.redact('ask emp-abc about it').text).toBe('ask [EMPLOYEE] about it');
    expect(d.redact('nothing to see').text).toBe('nothing to see');
  });

  it('finishes adversarial inputs (long runs of near-matches) with correct results', () => {
    const inputs = [
      'a'.repeat(200_000) + '@',
      '@'.repeat(200_000),
      '1'.repeat(200_000),
      '1 '.repeat(100_000),
      'eyJ'.repeat(70_000),
      'eyJa.'.repeat(40_000),
      '-----BEGIN PRIVATE KEY-----'.repeat(8_000),
      ':'.repeat(100_000) + 'a:b'.repeat(30_000),
      '+1 '.repeat(70_000),
      'Bearer '.repeat(30_000),
      'AB12 '.repeat(40_000),
    ];
    for (const text of inputs) {
      const result = all.redact(text);
      expect(result.text.length).toBeGreaterThan(0);
    }
    expect(all.redact('1'.repeat(200_000)).text).toBe('1'.repeat(200_000));
  });
});

describe('custom patterns: bounded matcher work', () => {
  const CORP_MAIL = { name: 'corp-mail', pattern: '(?i)[a-z0-9._%+-]{1,64}@corp\\.example\\.com' };
  const corp = detectorsFor({ detectors: [], customPatterns: [CORP_MAIL] });
  const prose = 'The quick brown fox jumps over the lazy dog. ';
  /** Just under 1 MiB of prose with 40 addresses spread through it: an ordinary large prompt. */
  const proseWith40 = `${prose.repeat(582)} bob@corp.example.com `.repeat(40);

  it('finds the one match at the end of a 1 MiB text with little matcher work (the whole text once cost seconds of the NFA)', () => {
    const text = `${'a'.repeat(2 ** 20 - 40)} a@corp.example.com`;
    const r = corp.scan(text);
    expect(r.findings.map((f) => [f.start, f.end])).toEqual([[text.length - 18, text.length]]);
    expect(r.complete).toBe(true);
    // The matcher runs on a window of tens of characters, not on the 1 MiB (146 × 1 Mi units before).
    expect(r.patternWork).toBeGreaterThan(0);
    expect(r.patternWork).toBeLessThanOrEqual(146 * 256);
  });

  it('stops a text dense with matches at the work cap and reports the rest unscanned', () => {
    const text = `${'a'.repeat(280)} x@corp.example.com `.repeat(3000);
    const r = corp.redact(text);
    expect(r.complete).toBe(false);
    expect(r.text.endsWith(UNSCANNED_MARKER)).toBe(true);
    expect(r.text).not.toContain('@corp.example.com');
    expect(corp.scan(text).patternWork).toBeLessThanOrEqual(DEFAULT_PATTERN_WORK);
  });

  it('shares one budget across the texts of a request: four 1 MiB texts do at most its work, the rest is unscanned', () => {
    const budget = new PatternBudget();
    const results = [0, 1, 2, 3].map(() => corp.scan(proseWith40, budget));
    expect(results[0]).toMatchObject({ complete: true });
    expect(results[0]!.findings).toHaveLength(40);
    const work = results.reduce((sum, r) => sum + r.patternWork, 0);
    expect(work).toBe(budget.spent);
    expect(work).toBeLessThanOrEqual(DEFAULT_PATTERN_WORK);
    expect(results[3]).toMatchObject({ complete: false });
    for (const r of results) expect(r.findings.every((f) => f.end <= r.scannedLength)).toBe(true);
  });
});

describe('Cyrillic and Greek look-alike letters, and dashes', () => {
  // Before, neither was folded: `ѕk-…` with a Cyrillic ѕ, an IBAN with a Cyrillic Е and a card
  // grouped with en dashes passed every detector.
  it('reads look-alike letters among ASCII letters or digits as Latin, and every dash as -, masking exactly the characters as written', () => {
    const key = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
    expect(redact(`key \u0455k-pr\u043ej-abcd\u0435fghijklmnopqrstuvwxyz0123456789ABCD ok`)).toBe('key [CREDENTIAL] ok');
    expect(redact(`key ${key.replace('s', '\u0455')}`)).toBe('key [CREDENTIAL]');
    expect(redact('iban D\u041589 3704 0044 0532 0130 00 ok')).toBe('iban [IBAN] ok');
    expect(redact('iban \u0412\u039568 5390 0754 7034 ok')).toBe('iban [IBAN] ok');
    expect(redact('nino \u0410B123456C ok')).toBe('nino [NATIONAL_ID] ok');
    expect(redact('auth B\u0435\u0430rer abcdefghijklmnopqrstuvwxyz012345 ok')).toBe('auth [CREDENTIAL] ok');
    for (const dash of ['\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\ufe58']) {
      const hex = dash.charCodeAt(0).toString(16);
      expect(redact(`card 4111${dash}1111${dash}1111${dash}1111 ok`), hex).toBe('card [PAYMENT_CARD] ok');
      expect(redact(`ssn 123${dash}45${dash}6789 ok`), hex).toBe('ssn [NATIONAL_ID] ok');
      expect(redact(`call 415${dash}555${dash}2671 ok`), hex).toBe('call [PHONE] ok');
    }
    // The spans cover exactly the characters as written.
    const text = 'x \u0455k-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD, 4111\u20131111\u20131111\u20131111; j\u043ehn@ex\u0430mple.com.';
    expect(all.scan(text).findings.map((f) => text.slice(f.start, f.end))).toEqual(['\u0455k-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD', '4111\u20131111\u20131111\u20131111', 'j\u043ehn@ex\u0430mple.com']);
    expect(fold(text)!.text).toBe('x sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD, 4111-1111-1111-1111; john@example.com.');
  });

  it('leaves ordinary Russian and Greek text as it is: no finding, and a word wholly in Cyrillic or Greek is not read as Latin', () => {
    const russian = [
      'Москва — столица России; в 2024 году в ней жило около 13 млн человек.',
      'Сор и мусор убрали у моря: ТОР-1 стоит на холме, а рост цен — 5–7 % в год.',
      'Позвоните Ивану по e-mail или в Telegram, адрес сайта www.пример.рф, тел. не указан.',
    ];
    const greek = ['Η Αθήνα είναι η πρωτεύουσα της Ελλάδας και έχει περίπου 3 εκατομμύρια κατοίκους.', 'ΚΑΙ ΤΟ ΠΑΙΔΙ ΕΙΠΕ: «Καλημέρα», και έφυγε στις 7–8 το πρωί.'];
    for (const text of [...russian, ...greek]) {
      expect(all.scan(text).findings, text).toEqual([]);
      expect(redact(text)).toBe(text);
      // Look-alikes of words standing alone are kept.
      for (const word of text.split(/\s+/)) if (!/[A-Za-z0-9]/.test(word)) expect(fold(word)?.text ?? word).toBe(word.replace(/[\u2013\u2014]/g, '-'));
    }
    expect(fold('\u0441\u043e\u0440 \u041a\u0391\u0399')).toBeUndefined();
  });

  // Before, `ann&#64;example.com` (which a model reads, and a browser shows, as an address) passed every detector.
  it('reads HTML character references as the characters they name, masking the references whole', () => {
    expect(redact('mail ann&#64;example&#x2E;com ok')).toBe('mail [EMAIL] ok');
    expect(redact('mail ann&commat;example&period;com ok')).toBe('mail [EMAIL] ok');
    expect(redact('card 4111&ndash;1111&#8211;1111&#X2013;1111 ok')).toBe('card [PAYMENT_CARD] ok');
    expect(redact('key &#x455;k-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD ok')).toBe('key [CREDENTIAL] ok');
    const text = 'x ann&#64;example.com y &#x1D7D2;111 1111 1111 1111.';
    expect(all.scan(text).findings.map((f) => text.slice(f.start, f.end))).toEqual(['ann&#64;example.com', '&#x1D7D2;111 1111 1111 1111']);
    // What names no character, or none these read, is kept as written.
    for (const plain of ['R&D &amp; Co', '&#0; &#xD800; &#99999999; &#64 &foo; &constructor; tom&jerry &#;']) {
      expect(redact(plain)).toBe(plain);
      expect(fold(plain)?.text ?? plain).toBe(plain);
    }
    const folded = fold('a&#64;b&#x1d7d2;c')!;
    expect(folded.text).toBe('a@b4c');
    expect([0, 1, 2, 3, 4, 5].map((i) => unfoldAt(folded, i))).toEqual([0, 1, 6, 7, 16, 17]);
  });

  it('lists only Cyrillic and Greek letters, each read as a Latin letter of its case, one unit for one', () => {
    for (const [latin, letters] of Object.entries(LOOKALIKES)) {
      expect(latin).toMatch(/^[A-Za-z]$/);
      for (const letter of letters) {
        expect(letter, letter).toMatch(/^(\p{Script=Cyrillic}|\p{Script=Greek})$/u);
        expect(letter.toUpperCase() === letter, letter).toBe(latin.toUpperCase() === latin);
        expect(lookalikeAs(letter.charCodeAt(0))).toBe(latin);
        // Alone, a look-alike is no character to fold (foldedAs is what folds whatever stands around it).
        expect(foldedAs(letter.charCodeAt(0))).toBeUndefined();
        expect(FOLDED.test(letter) || FOLDED.test(`${letter} x`)).toBe(false);
        expect(FOLDED.test(`${letter}x`) && FOLDED.test(`1${letter}`)).toBe(true);
      }
    }
  });
});

describe('text written with look-alike and invisible characters', () => {
  it('reads no-break spaces as spaces, full-width digits as digits and skips zero-width characters, masking the text as written', () => {
    expect(redact('card 4111\u00a01111\u00a01111\u00a01111 ok')).toBe('card [PAYMENT_CARD] ok');
    expect(redact('card 4111\u202f1111\u202f1111\u202f1111')).toBe('card [PAYMENT_CARD]');
    expect(redact('card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11.')).toBe('card [PAYMENT_CARD].');
    expect(redact('iban GB82\u00a0WEST\u00a01234\u00a05698\u00a07654\u00a032')).toBe('iban [IBAN]');
    expect(redact('call +44\u00a020\u00a07946\u00a00958')).toBe('call [PHONE]');
    for (const zw of ['\u200b', '\u200c', '\u200d', '\u2060', '\u00ad']) {
      expect(redact(`mail ann${zw}@exa${zw}mple.com now`), JSON.stringify(zw)).toBe('mail [EMAIL] now');
    }
    expect(all.scan('a\u200b ann@example.com').findings.map((f) => [f.start, f.end])).toEqual([[3, 18]]);
    expect(redact('caf\u00e9 \u00a0 plain words')).toBe('caf\u00e9 \u00a0 plain words');
  });

  it('reads at-sign look-alikes as @ and the digits of every script as ASCII digits (before, each escaped the e-mail, phone, card and IBAN detectors)', () => {
    expect(redact('mail ann\uff20example.com now')).toBe('mail [EMAIL] now');
    expect(redact('mail ann\ufe6bexample\uff0ecom now')).toBe('mail [EMAIL] now');
    expect(redact('mail \uff41\uff4e\uff4e\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d')).toBe('mail [EMAIL]');
    // Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai digits; mathematical bold digits (two UTF-16 units each).
    const digits = (zero: number, ascii: string): string => [...ascii].map((d) => (d >= '0' && d <= '9' ? String.fromCodePoint(zero + Number(d)) : d)).join('');
    for (const zero of [0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0x1d7ce]) {
      const hex = zero.toString(16);
      expect(redact(`card ${digits(zero, '4111 1111 1111 1111')} ok`), hex).toBe('card [PAYMENT_CARD] ok');
      expect(redact(`call ${digits(zero, '+44 20 7946 0958')} ok`), hex).toBe('call [PHONE] ok');
      expect(redact(`iban ${digits(zero, 'GB82 WEST 1234 5698 7654 32')} ok`), hex).toBe('iban [IBAN] ok');
      expect(redact(`mail ${digits(zero, 'ann42@example.com')} ok`), hex).toBe('mail [EMAIL] ok');
    }
    // A bidirectional control or a variation selector hides inside an address as a zero-width space does.
    expect(redact('mail ann\u200e@example\ufe0f.com now')).toBe('mail [EMAIL] now');
    // Positions map back onto the text as written: two-unit digits and characters left out shift what follows.
    const text = `x \u200b${digits(0x1d7ce, '4111111111111111')} y ann\uff20example.com`;
    expect(all.scan(text).findings.map((f) => text.slice(f.start, f.end))).toEqual([digits(0x1d7ce, '4111111111111111'), 'ann\uff20example.com']);
    // Text with nothing to find is kept as written, look-alikes and all.
    for (const plain of ['\u0662\u0660\u0662\u0664 \u2014 caf\u00e9 \u{1f914}\u200d\u{1f4bb}', '\u4f60\u597d\uff01\u3000\uff08\uff11\uff09']) expect(redact(plain)).toBe(plain);
  });

  it('folds exactly the characters its Unicode properties name: space separators, decimal digits, default-ignorables, full-width ASCII, small @ . + - ( )', () => {
    const expected = (c: number): string | undefined => {
      const ch = String.fromCodePoint(c);
      if (c < 0x80) return undefined;
      if (/\p{Nd}/u.test(ch)) return 'digit';
      if (/\p{Zs}/u.test(ch)) return ' ';
      if (/\p{Default_Ignorable_Code_Point}/u.test(ch)) return '';
      if ((c >= 0xff01 && c <= 0xff5e) || [0xfe6b, 0xfe52, 0xfe62, 0xfe63, 0xfe59, 0xfe5a].includes(c)) return ch.normalize('NFKC');
      if (/\p{Dash}/u.test(ch)) return '-';
      return undefined;
    };
    for (let c = 0; c <= 0x10ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const want = expected(c);
      const got = foldedAs(c);
      if (want === 'digit') {
        // A digit reads as its value: Unicode puts each script's digits 0-9 in order, and NFKC agrees where it maps one.
        expect(got, c.toString(16)).toMatch(/^[0-9]$/);
        const nfkc = String.fromCodePoint(c).normalize('NFKC');
        if (/^[0-9]$/.test(nfkc)) expect(got, c.toString(16)).toBe(nfkc);
      } else if (got !== want) expect(got, c.toString(16)).toBe(want);
      if ((got !== undefined) !== FOLDED.test(String.fromCodePoint(c))) expect(FOLDED.test(String.fromCodePoint(c)), c.toString(16)).toBe(got !== undefined);
    }
    expect(FOLDED.test('plain ASCII 0123456789 @ . + - ( ) and caf\u00e9 \u2026 \u{1f600}')).toBe(false);
    const folded = fold('a\u200b\u200c\u{1d7cf}b\u00a0c\u{e0041}')!;
    expect(folded.text).toBe('a1b c');
    expect([0, 1, 2, 3, 4, 5].map((i) => unfoldAt(folded, i))).toEqual([0, 3, 5, 6, 7, 10]);
    // Lone surrogates and characters outside the set are kept as they are, unit for unit.
    expect(fold('\ud835x\udfce \u{1f914}\u00a0')!.text).toBe('\ud835x\udfce \u{1f914} ');
    // A folded text longer than the buffer the first texts used.
    for (const n of [10_000, 100_000, 10]) {
      const long = `${'\uff21'.repeat(n)}\u200b!`;
      expect(fold(long)!.text).toBe(`${'A'.repeat(n)}!`);
    }
  });
});

describe('folding reads a text once', () => {
  it("a text of many '&' and no ';' is read in work linear in its length (each '&' looks a name's length ahead, not to the end)", () => {
    // One character to fold (NBSP) so that the text is folded at all, then 100,000 '&' that start no reference.
    const text = `\u00a0${'&a'.repeat(100_000)}`;
    // The characters read, counted where a string is read character by character or searched.
    let read = 0;
    const charCodeAt = String.prototype.charCodeAt;
    const indexOf = String.prototype.indexOf;
    const counted = vi.spyOn(String.prototype, 'charCodeAt').mockImplementation(function (this: string, i: number) {
      read++;
      return charCodeAt.call(this, i);
    });
    const searched = vi.spyOn(String.prototype, 'indexOf').mockImplementation(function (this: string, search: string, from?: number) {
      const at = indexOf.call(this, search, from);
      read += (at === -1 ? this.length : at) - (from ?? 0);
      return at;
    });
    try {
      expect(fold(text)?.text).toBe(` ${'&a'.repeat(100_000)}`);
    } finally {
      counted.mockRestore();
      searched.mockRestore();
    }
    // Before, each '&' searched the rest of the text for ';': about 10^10 characters read here.
    expect(read).toBeLessThan(text.length * 10);
  });
});
