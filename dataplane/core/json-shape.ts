import type { UpstreamFailure } from './canonical.js';
import type { JsonShapeProblem } from '../config/json-shape-scan.js';

export { type JsonShapeProblem, jsonShapeProblem, jsonTextShapeProblem } from '../config/json-shape-scan.js';

/** How far an upstream's JSON may go: its nesting depth and its count of objects, arrays and members. */
export interface JsonShapeLimits {
  maxDepth: number;
  maxElements: number;
}

/**
 * An upstream answer or stream event (`what`) refused for its shape: a failure that follows from the
 * request and the route's limits, like one too large in bytes, so it is not retried, does not fall
 * over and says nothing of the target's health. The upstream produced it: charged its worst case.
 */
export function upstreamShapeFailure(problem: JsonShapeProblem, limits: JsonShapeLimits, what: string, status: number): UpstreamFailure {
  const message =
    problem === 'too_deep'
      ? `upstream ${what} nests JSON objects and arrays deeper than ${limits.maxDepth} levels`
      : `upstream ${what} holds more than ${limits.maxElements} JSON objects, arrays and members, the route's limit (limits.maxResponseJsonElements)`;
  return { kind: 'ResponseTooLarge', status, message, billed: 'worstCase' };
}
