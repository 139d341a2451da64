// vLLM serves the OpenAI API; load-aware endpoint picking (issue 9) builds on top of the same mappers.
export { openAiAdapter as vllmAdapter } from '../openai/openai-adapter.js';
export { parseVllmMetrics } from './vllm-metrics.js';
