// The e2e suite's workload: runs in a client pod (image tollgate-testkit:dev) and calls the gateway
// by its Service DNS name with the official `openai` client, authenticated with the pod's projected
// ServiceAccount token. The suite drives it with `kubectl exec`; every command prints one JSON line.
//
//   client.ts once <baseURL> <model> <token file | -> [stream]
//   client.ts load <baseURL> <model> <token file> <workers> <max requests> <max seconds> <stop file>
//
// `once`: one request; no token file (-) sends no Authorization header at all.
// `load`: <workers> callers in a loop (alternating non-streaming and streaming) until the stop
// file appears, <max requests> were sent or <max seconds> passed; it keeps a running count in
// <stop file>.progress. No client retries (maxRetries 0): every failure the gateway lets through
// is counted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import OpenAI from 'openai';

interface Usage {
  prompt: number;
  completion: number;
}

type Outcome = { ok: true; content: string; usage: Usage } | { ok: false; status: number | null; error: string };

function clientFor(baseURL: string, tokenFile: string): OpenAI {
  if (tokenFile === '-') {
    // The SDK insists on an API key; the null header removes the Authorization header it makes.
    return new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 30_000, defaultHeaders: { authorization: null } });
  }
  // Read per request: the kubelet rotates projected tokens in place.
  return new OpenAI({ baseURL, apiKey: readFileSync(tokenFile, 'utf8').trim(), maxRetries: 0, timeout: 30_000 });
}

/** The error and its causes (a connection error says which: reset, refused, closed by the other side). */
function describe(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (!(cur instanceof Error)) {
      parts.push(String(cur));
      break;
    }
    const code = (cur as { code?: unknown }).code;
    parts.push(`${cur.constructor.name}: ${cur.message}${typeof code === 'string' ? ` (${code})` : ''}`);
    cur = cur.cause;
  }
  return parts.join(' <- ');
}

async function call(baseURL: string, model: string, tokenFile: string, stream: boolean, n: number): Promise<Outcome> {
  const client = clientFor(baseURL, tokenFile);
  const messages = [{ role: 'user' as const, content: `request ${n}: say hello` }];
  try {
    if (!stream) {
      const r = await client.chat.completions.create({ model, messages });
      return { ok: true, content: r.choices[0]?.message.content ?? '', usage: { prompt: r.usage?.prompt_tokens ?? -1, completion: r.usage?.completion_tokens ?? -1 } };
    }
    const s = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
    let content = '';
    let usage: Usage = { prompt: -1, completion: -1 };
    for await (const chunk of s) {
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = { prompt: chunk.usage.prompt_tokens, completion: chunk.usage.completion_tokens };
    }
    if (usage.prompt < 0) return { ok: false, status: 200, error: 'stream ended without usage' };
    return { ok: true, content, usage };
  } catch (e) {
    const status = e instanceof OpenAI.APIError ? (e.status ?? null) : null;
    return { ok: false, status, error: describe(e) };
  }
}

async function load(baseURL: string, model: string, tokenFile: string, workers: number, maxRequests: number, maxSeconds: number, stopFile: string): Promise<void> {
  const deadline = Date.now() + maxSeconds * 1000;
  let sent = 0;
  let ok = 0;
  const failures: { n: number; status: number | null; error: string }[] = [];
  const usage: Usage = { prompt: 0, completion: 0 };
  const done = (): boolean => sent >= maxRequests || Date.now() >= deadline || existsSync(stopFile);
  const worker = async (): Promise<void> => {
    while (!done()) {
      const n = sent++;
      const r = await call(baseURL, model, tokenFile, n % 2 === 1, n);
      if (r.ok) {
        ok++;
        usage.prompt += r.usage.prompt;
        usage.completion += r.usage.completion;
      } else {
        failures.push({ n, status: r.status, error: r.error });
      }
      writeFileSync(`${stopFile}.progress`, `${ok} ${failures.length}\n`);
      await new Promise((r2) => setTimeout(r2, 20)); // bounded load: at most ~50 req/s per worker
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  console.log(JSON.stringify({ sent, ok, failed: failures.length, failures: failures.slice(0, 20), usage, stoppedBy: existsSync(stopFile) ? 'stop-file' : 'limit' }));
}

const [cmd, baseURL = '', model = '', tokenFile = '-', ...rest] = process.argv.slice(2);
if (cmd === 'once') {
  console.log(JSON.stringify(await call(baseURL, model, tokenFile, rest[0] === 'stream', 0)));
} else if (cmd === 'load') {
  const [workers = '2', maxRequests = '1000', maxSeconds = '120', stopFile = '/tmp/stop'] = rest;
  await load(baseURL, model, tokenFile, Number(workers), Number(maxRequests), Number(maxSeconds), stopFile);
} else {
  console.error('usage: client.ts once|load ...');
  process.exit(2);
}
