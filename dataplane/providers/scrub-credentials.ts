import type { JsonObject, StreamStep, UpstreamFailure } from '../core/canonical.js';

const MASK = '[redacted]';
/** Longest upstream error text passed on (to the client, a span status, a log line). */
export const MAX_UPSTREAM_MESSAGE = 300;

// What credentials look like when an upstream (or a proxy before it) echoes them back. Specific
// shapes first; then long token-like runs, which is where unknown key formats end up.
const PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, MASK],
  [/\b(Bearer|bearer|BEARER|Basic)\s+[^\s"',;]+/g, `$1 ${MASK}`],
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*/g, MASK], // JWT
  [/\b(?:sk|pk|rk)-[\w*.-]{6,}/g, MASK], // OpenAI, Anthropic (sk-ant-…), also when partly masked by the upstream
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, MASK], // AWS access key id
  [/\bAIza[\w-]{30,}/g, MASK], // Google API key
  [/\bya29\.[\w.-]+/g, MASK], // Google OAuth access token
  [/\b((?:x-)?api[-_]?key|key|token|access_token|secret|password|signature|credential)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi, `$1$2${MASK}`],
  // 32+ characters of base64/hex with letters and digits (Azure keys, AWS secret keys, unknown
  // formats); '-' and '.' break a run, so model names and UUIDs stay readable.
  [/(?<![\w/+=])(?=[\w/+=]*\d)(?=[\w/+=]*[A-Za-z])[\w/+=]{32,}/g, MASK],
];
/** Text scanned by the patterns at most (the rest is cut anyway): keeps the scrub linear in practice. */
const SCAN_LIMIT = 4 * MAX_UPSTREAM_MESSAGE;

/** Shorter secrets are not looked for: they would match ordinary text. */
const MIN_SECRET_LENGTH = 4;

function replaceAll(text: string, secret: string): string {
  return secret.length >= MIN_SECRET_LENGTH ? text.split(secret).join(MASK) : text;
}

/** Whether upstream text holds one of the provider's own credentials (for what is dropped rather than rewritten, like a header). */
export function holdsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((s) => s.length >= MIN_SECRET_LENGTH && text.includes(s));
}

/**
 * Upstream text as it may leave the gateway: the provider's own credentials and anything shaped
 * like a credential replaced by "[redacted]", whitespace collapsed, cut to MAX_UPSTREAM_MESSAGE.
 */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) out = replaceAll(out, s);
  out = out.slice(0, SCAN_LIMIT);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > MAX_UPSTREAM_MESSAGE ? `${out.slice(0, MAX_UPSTREAM_MESSAGE)}…` : out;
}

/** Nesting kept by scrubJson; deeper values are replaced by TOO_DEEP. No provider's error nests past a handful of levels. */
export const MAX_SCRUB_DEPTH = 32;
const TOO_DEEP = '[nested too deeply]';

/**
 * Every string in upstream JSON scrubbed as scrubText does (keys and the structure kept, to
 * MAX_SCRUB_DEPTH levels). The bound matters: JSON.parse takes any depth, and a walk without one
 * ran out of stack on an upstream's error nested 3,000 levels deep (6 KB), which a Realtime
 * upstream's event turned into a crash of the whole data plane.
 */
export function scrubJson(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_SCRUB_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, secrets, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubJson(v, secrets, depth + 1)]));
}

/** A failure with every upstream-provided text scrubbed: the only form that reaches clients, spans and logs. */
export function scrubFailure(failure: UpstreamFailure, secrets: readonly string[]): UpstreamFailure {
  const out: UpstreamFailure = { ...failure, message: scrubText(failure.message, secrets) };
  if (failure.clientBody !== undefined) out.clientBody = scrubJson(failure.clientBody, secrets) as JsonObject;
  return out;
}

export function scrubStep(step: StreamStep, secrets: readonly string[]): StreamStep {
  return step.failure === undefined ? step : { ...step, failure: scrubFailure(step.failure, secrets) };
}
