import { createHash } from 'node:crypto';

const WORDS = [
  'Tollgate', 'routes', 'this', 'request', 'through', 'a', 'mock', 'provider', 'so', 'that', 'demos', 'and',
  'load', 'tests', 'run', 'without', 'keys', 'or', 'network', 'access', 'every', 'answer', 'is', 'deterministic',
];

export function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** `count` words, the same for the same prompt. Each word counts as one token. */
export function mockWords(prompt: string, count: number): string[] {
  const start = seedOf(prompt) % WORDS.length;
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[(start + i) % WORDS.length] ?? 'token');
  return out;
}

/** A small deterministic unit vector derived from the input. */
export function mockEmbedding(input: string, dimensions = 8): number[] {
  const digest = createHash('sha256').update(input).digest();
  const raw = Array.from({ length: dimensions }, (_, i) => (digest[i] ?? 0) - 128);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Math.round((v / norm) * 1e6) / 1e6);
}
