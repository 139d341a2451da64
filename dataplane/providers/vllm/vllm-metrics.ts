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

/** Parses `{a="x",b="y\"z"}` starting at `start` (the brace); returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return undefined;
    const name = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length; j++) {
      const c = line[j];
      if (c === '\\') {
        const n = line[++j];
        value += n === 'n' ? '\n' : (n ?? '');
      } else if (c === '"') break;
      else value += c;
    }
    if (j >= line.length) return undefined;
    labels[name] = value;
    i = j + 1;
  }
}

function parseSample(line: string): Sample | undefined {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  let name: string;
  let labels: Record<string, string> = {};
  let rest: string;
  if (brace >= 0 && (space < 0 || brace < space)) {
    name = line.slice(0, brace);
    const parsed = parseLabels(line, brace);
    if (parsed === undefined) return undefined;
    labels = parsed.labels;
    rest = line.slice(parsed.end);
  } else {
    if (space < 0) return undefined;
    name = line.slice(0, space);
    rest = line.slice(space);
  }
  const value = parseValue(rest.trim().split(/\s+/)[0] ?? '');
  return Number.isNaN(value) ? undefined : { name, labels, value };
}

const WANTED = new Set([
  'vllm:num_requests_waiting',
  'vllm:num_requests_running',
  'vllm:kv_cache_usage_perc',
  'vllm:gpu_cache_usage_perc',
  'vllm:lora_requests_info',
]);

function adapters(label: string | undefined): string[] {
  return (label ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Reads the load signals from one /metrics page: vllm:num_requests_waiting and
 * vllm:num_requests_running (summed over engines), vllm:kv_cache_usage_perc (averaged) and
 * vllm:lora_requests_info (the series with the newest timestamp value; absent without --enable-lora).
 */
export function parseVllmMetrics(text: string): PodLoad {
  const byName = new Map<string, Sample[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#') || !line.startsWith('vllm:')) continue;
    const sample = parseSample(line);
    if (sample === undefined || !WANTED.has(sample.name)) continue;
    const list = byName.get(sample.name) ?? [];
    list.push(sample);
    byName.set(sample.name, list);
  }
  const sum = (name: string): number | undefined => {
    const list = byName.get(name);
    return list === undefined ? undefined : list.reduce((s, x) => s + x.value, 0);
  };
  const mean = (name: string): number | undefined => {
    const list = byName.get(name);
    return list === undefined ? undefined : list.reduce((s, x) => s + x.value, 0) / list.length;
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
  const lora = (byName.get('vllm:lora_requests_info') ?? []).reduce<Sample | undefined>((best, s) => (best === undefined || s.value > best.value ? s : best), undefined);
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
