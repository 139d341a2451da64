import { describe, expect, it } from 'vitest';
import { type MetricsParseWork, parseVllmMetrics } from './vllm-metrics.js';

// Shape of a real vLLM /metrics page (prometheus_client text format, two data-parallel engines).
const PAGE = `# HELP vllm:lora_requests_info Running stats on lora requests.
# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora="2",running_lora_adapters="",waiting_lora_adapters=""} 1.790060019e+09
vllm:lora_requests_info{max_lora="2",running_lora_adapters="sql-lora,chat-lora",waiting_lora_adapters="x"} 1.790060021e+09
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-4B"} 5.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-4B"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-4B"} 2.0
vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-4B"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-4B"} 0.45
vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen3-4B"} 0.25
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-4B"} 1234.0
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="Qwen/Qwen3-4B"} 9.0
`;

describe('parseVllmMetrics', () => {
  it('sums queues over engines, averages KV usage, and reads the newest LoRA series', () => {
    expect(parseVllmMetrics(PAGE)).toEqual({
      waiting: 2,
      running: 8,
      kvCacheUsage: 0.35,
      lora: { running: ['sql-lora', 'chat-lora'], waiting: ['x'], maxLora: 2 },
    });
  });

  it('falls back to the deprecated vllm:gpu_cache_usage_perc', () => {
    const page = `# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.8\n`;
    expect(parseVllmMetrics(page)).toEqual({ kvCacheUsage: 0.8 });
  });

  it('prefers vllm:kv_cache_usage_perc when both are present', () => {
    const page = 'vllm:gpu_cache_usage_perc{model_name="m"} 0.8\nvllm:kv_cache_usage_perc{model_name="m"} 0.3\n';
    expect(parseVllmMetrics(page).kvCacheUsage).toBe(0.3);
  });

  it('handles escaped label values, timestamps, unlabelled samples and junk', () => {
    const page = [
      'vllm:num_requests_waiting{model_name="a \\"quoted\\" name, with comma"} 4 1700000000000',
      'vllm:num_requests_running 7',
      'vllm:num_requests_running{broken',
      'vllm:kv_cache_usage_perc{model_name="m"} NaN',
      'other_metric 5',
      '',
    ].join('\n');
    expect(parseVllmMetrics(page)).toEqual({ waiting: 4, running: 7 });
  });

  it('undoes escapes in the LoRA label values', () => {
    const page = 'vllm:lora_requests_info{max_lora="3",running_lora_adapters="a\\\\b\\nc,\\"q\\"",waiting_lora_adapters=""} 1\n';
    expect(parseVllmMetrics(page).lora).toEqual({ running: ['a\\b\nc', '"q"'], waiting: [], maxLora: 3 });
  });

  it('costs a few steps per line on a 4 MiB page of long labels, not one per character', () => {
    // Before, label values were built a character at a time, and labels parsed before the name was
    // checked: a 4 MiB page of such LoRA lines held the event loop about 0.8 s on every scrape.
    const lora = `vllm:lora_requests_info{max_lora="4",running_lora_adapters="${'a,'.repeat(200)}",waiting_lora_adapters=""} 1.0\n`;
    const unwanted = `vllm:x{${'a="b",'.repeat(2000)}\n`;
    for (const line of [lora, unwanted]) {
      const lines = Math.floor((4 * 1024 * 1024) / line.length);
      const work: MetricsParseWork = { steps: 0 };
      const load = parseVllmMetrics(line.repeat(lines), work);
      if (line === lora) expect(load.lora?.running.length).toBe(200);
      expect(work.steps).toBeGreaterThanOrEqual(lines);
      expect(work.steps).toBeLessThanOrEqual(lines * 8);
    }
  });

  it('returns nothing for a page without vLLM metrics', () => {
    expect(parseVllmMetrics('# HELP x y\nx 1\n')).toEqual({});
  });
});
