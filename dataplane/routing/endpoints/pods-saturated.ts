import type { RouteConfig } from '../../config/snapshot.js';
import { GatewayError } from '../../core/gateway-error.js';

/**
 * The answer when the last target tried was a self-hosted pool with no pod able to take the
 * request and nothing to spill over to: 503 with retry-after, so that clients back off and retry.
 */
/** `attempts`: the attempt headers (route-errors.ts `attemptHeaders`). */
export function podsSaturated(route: RouteConfig, message: string, retryAfterMs: number | undefined, attempts: Record<string, string>): GatewayError {
  const seconds = Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000));
  return new GatewayError(503, 'pods_saturated', 'service_unavailable_error', `model ${route.model} (route ${route.id}) is at capacity: ${message}`, {
    headers: { 'retry-after': String(seconds), ...attempts },
  });
}
