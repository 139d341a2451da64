import type { PodLoad } from '../types.js';

/**
 * vLLM's Prometheus exposition (GET /metrics), reduced to the signals endpoint picking needs.
 * Pure: text in, numbers out. Unknown metrics, comments and malformed lines are ignored.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  return text.length === 0 ? Number.NaN : Number(text);
}

/**
 * Counts the parser's steps (loop turns in JavaScript; runs between quotes, escapes and commas are
 * found and cut by the engine's indexOf and slice), so that tests can bound the work a page costs.
 */
export interface MetricsParseWork {
  steps: number;
}

/**
 * Finds the end of a quoted label value starting after its opening quote at `from`: the index of
 * the closing quote, or -1. Runs between escapes are skipped by indexOf, not read a character at a
 * time, and both searches only move forward (linear in the line, however many escapes).
 */
function closingQuote(line: string, from: number, work: MetricsParseWork): number {
  let quote = line.indexOf('"', from);
  let escape = line.indexOf('\\', from);
  while (quote >= 0 && escape >= 0 && escape < quote) {
    work.steps++;
    const next = escape + 2;
    if (next > quote) quote = line.indexOf('"', next);
    escape = line.indexOf('\\', next);
  }
  return quote;
}

/** A label value without its quotes, escapes undone: `\n` a newline, `\x` x. */
function unescape(raw: string, work: MetricsParseWork): string {
  let escape = raw.indexOf('\\');
  if (escape < 0) return raw;
  let out = '';
  let run = 0;
  while (escape >= 0 && escape < raw.length - 1) {
    work.steps++;
    const n = raw[escape + 1];
    out += raw.slice(run, escape) + (n === 'n' ? '\n' : (n ?? ''));
    run = escape + 2;
    escape = raw.indexOf('\\', run);
  }
  return out + raw.slice(run);
}

/**
 * Reads `{a="x",b="y\"z"}` starting at `start` (the brace): the index after `}`, and the labels
 * when `keep` (only the LoRA series needs them; the others are only stepped over).
 */
function parseLabels(line: string, start: number, keep: boolean, work: MetricsParseWork): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    work.steps++;
    while (line[i] === ' ' || line[i] === ',') {
      work.steps++;
      i++;
    }
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return undefined;
    const close = closingQuote(line, eq + 2, work);
    if (close < 0) return undefined;
    if (keep) labels[line.slice(i, eq).trim()] = unescape(line.slice(eq + 2, close), work);
    i = close + 1;
  }
}

/** The first blank-separated token of what follows the labels (the value; a timestamp may follow). */
function firstToken(rest: string): string {
  const t = rest.trimStart();
  const blank = t.search(/[ \t\r]/);
  return blank < 0 ? t : t.slice(0, blank);
}

function parseSample(line: string, name: string, work: MetricsParseWork): Sample | undefined {
  let labels: Record<string, string> = {};
  let rest: string;
  if (line[name.length] === '{') {
    const parsed = parseLabels(line, name.length, name === LORA_INFO, work);
    if (parsed === undefined) return undefined;
    labels = parsed.labels;
    rest = line.slice(parsed.end);
  } else {
    rest = line.slice(name.length);
  }
  const value = parseValue(firstToken(rest));
  return Number.isNaN(value) ? undefined : { name, labels, value };
}

const LORA_INFO = 'vllm:lora_requests_info';
const WANTED = new Set([
  'vllm:num_requests_waiting',
  'vllm:num_requests_running',
  'vllm:kv_cache_usage_perc',
  'vllm:gpu_cache_usage_perc',
  LORA_INFO,
]);

const LONGEST_WANTED = Math.max(...[...WANTED].map((n) => n.length));

/** Length of the metric name at the start of a line (up to the label brace or the first blank), looked for no further than the longest wanted name. */
function nameLength(line: string): number {
  const limit = Math.min(line.length, LONGEST_WANTED + 1);
  for (let i = 0; i < limit; i++) {
    const c = line.charCodeAt(i);
    // '{', ' ', '\t'
    if (c === 123 || c === 32 || c === 9) return i;
  }
  return limit;
}

function adapters(label: string | undefined): string[] {
  return (label ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Reads the load signals from one /metrics page: vllm:num_requests_waiting and
 * vllm:num_requests_running (summed over engines), vllm:kv_cache_usage_perc (averaged) and
 * vllm:lora_requests_info (the series with the newest timestamp value; absent without --enable-lora).
 */
export function parseVllmMetrics(text: string, work: MetricsParseWork = { steps: 0 }): PodLoad {
  const totals = new Map<string, { sum: number; n: number }>();
  let lora: Sample | undefined;
  for (let at = 0; at < text.length; ) {
    work.steps++;
    const nl = text.indexOf('\n', at);
    const lineEnd = nl < 0 ? text.length : nl;
    const raw = text.slice(at, lineEnd);
    at = lineEnd + 1;
    const line = raw.startsWith('vllm:') ? raw : raw.trimStart();
    if (!line.startsWith('vllm:')) continue;
    // The name first: a line of another metric costs no label parsing, however long its labels.
    const nameEnd = nameLength(line);
    const name = line.slice(0, nameEnd);
    if (!WANTED.has(name)) continue;
    const sample = parseSample(line, name, work);
    if (sample === undefined) continue;
    // Sums and counts only, and the newest LoRA series: nothing is kept per line.
    if (name === LORA_INFO) {
      if (lora === undefined || sample.value > lora.value) lora = sample;
      continue;
    }
    const t = totals.get(name);
    if (t === undefined) totals.set(name, { sum: sample.value, n: 1 });
    else {
      t.sum += sample.value;
      t.n++;
    }
  }
  const sum = (name: string): number | undefined => totals.get(name)?.sum;
  const mean = (name: string): number | undefined => {
    const t = totals.get(name);
    return t === undefined ? undefined : t.sum / t.n;
  };
  const out: PodLoad = {};
  const waiting = sum('vllm:num_requests_waiting');
  if (waiting !== undefined) out.waiting = waiting;
  const running = sum('vllm:num_requests_running');
  if (running !== undefined) out.running = running;
  // vllm:gpu_cache_usage_perc was deprecated in 0.9 in favour of vllm:kv_cache_usage_perc; older servers only have it.
  const kv = mean('vllm:kv_cache_usage_perc') ?? mean('vllm:gpu_cache_usage_perc');
  if (kv !== undefined) out.kvCacheUsage = Math.min(1, Math.max(0, kv));
  // Several series can coexist; the value is the Unix time of the update, so the largest is current.
  if (lora !== undefined) {
    const max = Number(lora.labels.max_lora);
    out.lora = {
      running: adapters(lora.labels.running_lora_adapters),
      waiting: adapters(lora.labels.waiting_lora_adapters),
      maxLora: Number.isFinite(max) && max >= 0 ? max : 0,
    };
  }
  return out;
}
