import { PASS_THROUGH_ENDPOINTS } from '../../config/pass-through-endpoints.js';
import { z } from 'zod';
import type { ProviderContract } from '../../config/provider-contract.js';

/** Load-aware pod picking for a vllm provider: scraping, health and when a pod counts as full. */
export const VllmConfigSchema = z.object({
  scrapeIntervalMs: z.number().int().min(1),
  scrapeTimeoutMs: z.number().int().min(1),
  /** Metrics older than this are ignored (the pod is judged by the gateway's own in-flight count). */
  staleAfterMs: z.number().int().min(1),
  metricsPath: z.string().min(1),
  healthPath: z.string().min(1),
  /** Consecutive failed /health probes before a pod gets no traffic. */
  unhealthyThreshold: z.number().int().min(1),
  /** A pod is saturated when vllm:num_requests_waiting is above this ... */
  maxQueueDepth: z.number().int().min(0),
  /** ... or its KV-cache usage (0..1) is at or above this. */
  maxKvCacheUsage: z.number().min(0).max(1),
});
export type VllmConfig = z.infer<typeof VllmConfigSchema>;

/** vLLM's part of the snapshot contract: its pods come from a Service, never a public endpoint. */
export const vllmContract = {
  type: 'vllm',
  passThrough: PASS_THROUGH_ENDPOINTS,
  settings: {
    /** Present for vllm providers: their endpoints are pods picked by load. */
    vllm: VllmConfigSchema.optional(),
  },
  requires: null,
} as const satisfies ProviderContract;
