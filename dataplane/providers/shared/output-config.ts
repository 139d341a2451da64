import type { JsonObject } from '../../core/canonical.js';
import { isObject } from './json-guards.js';

/**
 * A /v1/messages client's `output_config` (a canonical extension: `effort`, and `format:
 * {type:'json_schema', schema}`), kept as it sent it so that an Anthropic target gets it as is.
 * Targets whose APIs have no output_config read it through restateOutputConfig, in OpenAI chat's
 * terms their adapters already translate: `format` as `response_format` (json_schema), `effort` as
 * `reasoning_effort`. A body's own response_format or reasoning_effort wins (a client of both APIs
 * cannot send both, but a restated body must not change meaning).
 */

/** The effort levels Anthropic's output_config takes; anything else is left to the upstream's own check. */
const EFFORTS: ReadonlySet<string> = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

/** output_config.format as OpenAI chat's response_format, or undefined when it has none the gateway can restate. */
function responseFormat(config: JsonObject): JsonObject | undefined {
  const format = config.format;
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema)) return undefined;
  return { type: 'json_schema', json_schema: { name: 'output', schema: format.schema } };
}

/** output_config.effort, when it is one Anthropic names. */
export function outputEffort(body: JsonObject): string | undefined {
  const config = body.output_config;
  return isObject(config) && typeof config.effort === 'string' && EFFORTS.has(config.effort) ? config.effort : undefined;
}

/**
 * The body with output_config restated as response_format and reasoning_effort and removed, for a
 * target without output_config. The same object when there is none (every request but a
 * /v1/messages client's that sets it), so nothing is copied on the common path.
 */
export function restateOutputConfig(body: JsonObject): JsonObject {
  const config = body.output_config;
  if (config === undefined) return body;
  const { output_config: _config, ...out } = body;
  if (!isObject(config)) return out;
  const format = responseFormat(config);
  if (format !== undefined && (out.response_format === undefined || out.response_format === null)) out.response_format = format;
  const effort = outputEffort(body);
  if (effort !== undefined && (out.reasoning_effort === undefined || out.reasoning_effort === null)) out.reasoning_effort = effort;
  return out;
}
