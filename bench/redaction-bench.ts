/**
 * Redaction cost: all built-in detectors (plus one custom RE2 pattern) over a 100 KB prompt, for
 * five texts — prose without PII, prose with some PII (one e-mail, card, phone and IP every
 * ~2 KB), PII-dense text (a finding every ~40 bytes, so the match cap is reached), prose with PII
 * written in look-alikes every ~2 KB (a full-width at-sign, Arabic-Indic digits, no-break spaces)
 * and CJK prose (full-width punctuation every few characters): the last two are folded first; then
 * the look-alikes folded since session 26 (Cyrillic letters inside Latin words, en dashes) and
 * Russian prose, whose words are not read as Latin. Prints one
 * JSON object with p50/p90 per text. Target (issue 16): p50 ≤ 2 ms for a 100 KB prompt. Then a
 * record's content line for a ~9 MB prompt (100 messages of ~92 KB, prose with an e-mail address
 * and a card each) under the default maxRecordBytes (256 KiB): what the capture worker spends on
 * one such request (redaction stops past what the record keeps); and the same messages sent as one
 * text part each, and as two (a message's text parts are read joined as well as each alone).
 *
 *   npx tsx bench/redaction-bench.ts [runs=200]
 */
import { performance } from 'node:perf_hooks';
import { BUILTIN_DETECTORS, compileDetectors } from '../dataplane/policy/detectors/index.js';
import { contentLine } from '../dataplane/policy/capture/serialise-capture.js';
import { captureSamplePolicy } from './lib/capture-sample.mjs';

const runs = Number(process.argv[2] ?? 200);
const compiled = compileDetectors({ detectors: BUILTIN_DETECTORS, customPatterns: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}' }] });
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const detectors = compiled.detectors;

const fill = (unit: string, size: number): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const prose = 'The quarterly report covers 12 regions and 2024 revenue; version 3.2 shipped with 41 fixes, and the team met on 2024-06-03 to plan the next steps for the rollout. ';
const texts = {
  prose: fill(prose, 100_000),
  'some-pii': fill(`${prose.repeat(12)}Contact jane.doe@example.com, card 4111 1111 1111 1111, call +1 415 555 2671 from 10.1.2.3. `, 100_000),
  'pii-dense': fill('mail a.b@example.com card 4111111111111111 ', 100_000),
  // Text a reader reads through but the patterns do not name: folded first (text-fold.ts), then scanned.
  'look-alikes': fill(`${prose.repeat(12)}Contact jane.doe\uff20example.com, card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661, call +1\u00a0415\u00a0555\u00a02671. `, 100_000),
  // Session 26's look-alikes: Cyrillic letters among Latin ones, a key with a Cyrillic ѕ, a card and a phone grouped with en dashes.
  confusables: fill(`${prose.repeat(12)}Contact j\u043ehn.d\u043ee@ex\u0430mple.com, key \u0455k-proj-abcdefghijklmnopqrstuvwxyz0123, card 4111\u20131111\u20131111\u20131111, call +1\u00a0415\u2013555\u20132671. `, 100_000),
  // Russian prose (Cyrillic look-alike letters in every word, an em and an en dash a sentence): nothing to find.
  russian: fill('\u041c\u043e\u0441\u043a\u0432\u0430 \u2014 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0420\u043e\u0441\u0441\u0438\u0438; \u0432 2024 \u0433\u043e\u0434\u0443 \u0440\u043e\u0441\u0442 \u0446\u0435\u043d \u0441\u043e\u0441\u0442\u0430\u0432\u0438\u043b 5\u20137 % \u0432 \u0433\u043e\u0434. ', 100_000),
  // CJK prose: full-width punctuation every few characters, each one to fold.
  cjk: fill('\u6211\u4eec\u5728\u62a5\u544a\u4e2d\uff0c\u8986\u76d6\u4e86\u5341\u4e8c\u4e2a\u5730\u533a\uff01\u7248\u672c\uff08\uff13\uff0e\uff12\uff09\u5df2\u53d1\u5e03\u3002\u3000', 100_000),
};

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const out: Record<string, unknown> = { runs, bytes: 100_000 };
for (const [name, text] of Object.entries(texts)) {
  for (let i = 0; i < 20; i++) detectors.redact(text); // warm-up
  const times: number[] = [];
  let findings = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = detectors.redact(text);
    times.push(performance.now() - t);
    findings = Object.values(r.counts).reduce((a, b) => a + b, 0);
  }
  times.sort((a, b) => a - b);
  out[name] = { p50Ms: Number(pct(times, 0.5).toFixed(3)), p90Ms: Number(pct(times, 0.9).toFixed(3)), findings };
}

// A huge prompt's record, as the capture worker builds it.
const message = `mail ann.lee@example.com card 4111 1111 1111 1111 ${prose.repeat(560)}`;
const policy = { config: captureSamplePolicy('Redacted', BUILTIN_DETECTORS, []), detectors };
const records = {
  'record-of-9mb-prompt': JSON.stringify({ messages: Array.from({ length: 100 }, () => ({ role: 'user', content: message })) }),
  // The same messages as one text part each, and as two (read joined as well as each alone: about twice the detectors' work).
  'record-of-9mb-prompt-one-part': JSON.stringify({ messages: Array.from({ length: 100 }, () => ({ role: 'user', content: [{ type: 'text', text: message }] })) }),
  'record-of-9mb-prompt-two-parts': JSON.stringify({
    messages: Array.from({ length: 100 }, () => ({ role: 'user', content: [{ type: 'text', text: message.slice(0, 40_000) }, { type: 'text', text: message.slice(40_000) }] })),
  }),
};
for (const [name, request] of Object.entries(records)) {
  const parts = { mode: 'Redacted' as const, contentHead: '{"content":', request, response: '' };
  const line = (): number => contentLine({ policyId: 'p', namespace: 'n', time: 't', metadata: '', ...parts }, policy)?.length ?? 0;
  for (let i = 0; i < 5; i++) line();
  const times: number[] = [];
  let kept = 0;
  for (let i = 0; i < Math.max(5, Math.floor(runs / 10)); i++) {
    const t = performance.now();
    kept = line();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  out[name] = { promptBytes: request.length, keptBytes: kept, p50Ms: Number(pct(times, 0.5).toFixed(3)), p90Ms: Number(pct(times, 0.9).toFixed(3)) };
}
console.log(JSON.stringify(out, null, 2));
