/**
 * A guardrail webhook as a team would run it, as its own process: it implements the contract of
 * docs/guardrails.md ("The webhook contract") and nothing else of Tollgate.
 *
 *   node --import tsx test/guardrail-services/webhook-guard.ts
 *
 * Listens on 127.0.0.1 (PORT, default any free port) and prints `listening <url>` once ready.
 * FLAG_PHRASES (comma-separated, case-insensitive; default "secret project") are what it flags.
 *
 *   POST /check  → {"flagged": bool, "reason"?: "flagged phrase"}
 *   POST /mask   → the same, with "texts": each text with the phrases replaced by [FLAGGED]
 *   POST /hang   → never answers (a service that hangs)
 *   GET  /received → {"checks": [...every GuardrailCheck received...], "problems": [...contract violations seen...]}
 *
 * A request that does not follow the contract is answered 400 and recorded in `problems`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, serve } from './serve.js';

interface TextSlot {
  role: string;
  text: string;
}

const phrases = (process.env.FLAG_PHRASES ?? 'secret project')
  .split(',')
  .map((p) => p.trim().toLowerCase())
  .filter((p) => p !== '');
const checks: unknown[] = [];
const problems: string[] = [];
const hanging = new Set<ServerResponse>();

const REQUIRED_STRINGS = ['policy', 'rule', 'requestId', 'route', 'model', 'caller'] as const;

/** The contract's request body, or what is wrong with it. */
function parseCheck(body: unknown): { texts: TextSlot[] } | { problem: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { problem: 'body is not a JSON object' };
  const b = body as Record<string, unknown>;
  if (b.apiVersion !== 'tollgate.dev/v1alpha1') return { problem: `apiVersion is ${JSON.stringify(b.apiVersion)}` };
  if (b.kind !== 'GuardrailCheck') return { problem: `kind is ${JSON.stringify(b.kind)}` };
  if (b.phase !== 'Request' && b.phase !== 'Response') return { problem: `phase is ${JSON.stringify(b.phase)}` };
  for (const k of REQUIRED_STRINGS) if (typeof b[k] !== 'string' || b[k] === '') return { problem: `${k} is not a non-empty string` };
  const known = new Set(['apiVersion', 'kind', 'phase', 'texts', ...REQUIRED_STRINGS]);
  const extra = Object.keys(b).filter((k) => !known.has(k));
  if (extra.length > 0) return { problem: `unknown fields ${extra.join(', ')}` };
  if (!Array.isArray(b.texts)) return { problem: 'texts is not an array' };
  const texts: TextSlot[] = [];
  for (const t of b.texts as unknown[]) {
    const slot = t as Partial<TextSlot> | null;
    if (typeof slot?.role !== 'string' || typeof slot.text !== 'string') return { problem: 'a text is not {role, text}' };
    texts.push({ role: slot.role, text: slot.text });
  }
  return { texts };
}

function mask(text: string): string {
  let out = text;
  for (const p of phrases) out = out.replace(new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '[FLAGGED]');
  return out;
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  if (req.method === 'GET' && req.url === '/received') return json(res, 200, { checks, problems });
  if (req.method !== 'POST') return json(res, 405, { error: 'POST only' });
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type is ${req.headers['content-type']}`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    problems.push('body is not JSON');
    return json(res, 400, { error: 'body is not JSON' });
  }
  const check = parseCheck(body);
  if ('problem' in check) {
    problems.push(check.problem);
    return json(res, 400, { error: check.problem });
  }
  checks.push(body);
  if (req.url === '/hang') return void hanging.add(res);
  const flagged = check.texts.some((t) => phrases.some((p) => t.text.toLowerCase().includes(p)));
  const answer: Record<string, unknown> = { flagged };
  if (flagged) answer.reason = 'flagged phrase';
  if (req.url === '/mask') answer.texts = check.texts.map((t) => mask(t.text));
  else if (req.url !== '/check') return json(res, 404, { error: `no such path ${req.url}` });
  json(res, 200, answer);
}

serve(handle, () => {
  for (const res of hanging) res.destroy();
});
