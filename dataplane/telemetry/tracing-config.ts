export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** Trace export settings, parsed once at start from flags and the standard OTEL_* variables. */
export interface TracingConfig {
  /** Full OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  sampler: SamplerName;
  /** Ratio for the traceidratio samplers, 0..1. */
  samplerRatio: number;
  serviceName: string;
  serviceVersion: string;
  resourceAttributes: Record<string, string>;
  /** Characters a string attribute value keeps (each string of an array too); longer ones are cut. */
  attributeValueLengthLimit: number;
}

/**
 * The bound on a string attribute value when OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT and
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT are unset. The SDK's default is no bound; ours is one because
 * some values come from outside (a tenant's services, callers): no value the gateway sets is
 * longer when it is its own, and a span stays small enough for any exporter or collector.
 */
export const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT = 4096;

export type Env = Record<string, string | undefined>;

export class TracingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TracingConfigError';
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text.trim());
  } catch {
    return undefined;
  }
}

/**
 * `k1=v1,k2=v2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES).
 * An error names the item by its position and, once it decodes, its key, never by its text: the
 * values are credentials (an exporter's API key), and a start-up error goes to the pod's log.
 */
export function parseKeyValueList(text: string | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  const items = text.split(',');
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as string;
    if (item.trim() === '') continue;
    const position = `item ${i + 1}`;
    const eq = item.indexOf('=');
    // Without a key, the item may be the rest of a value that held a comma.
    if (eq <= 0) throw new TracingConfigError(`${what}: ${position} is not key=value`);
    const key = decoded(item.slice(0, eq));
    if (key === undefined) throw new TracingConfigError(`${what}: bad percent-encoding in the key of ${position}`);
    const value = decoded(item.slice(eq + 1));
    if (value === undefined) throw new TracingConfigError(`${what}: bad percent-encoding in the value of ${JSON.stringify(key)} (${position})`);
    out[key] = value;
  }
  return out;
}

function tracesUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

export interface TracingFlags {
  /** --otlp-endpoint: base URL, like OTEL_EXPORTER_OTLP_ENDPOINT; wins over the environment. */
  otlpEndpoint?: string;
}

/**
 * Tracing settings from flags and environment, or undefined when tracing is off: no endpoint,
 * OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none. Throws TracingConfigError on bad values.
 * Only OTLP over HTTP with protobuf payloads is exported.
 */
export function parseTracingConfig(env: Env, flags: TracingFlags, defaults: { serviceName: string; serviceVersion: string }): TracingConfig | undefined {
  if (nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') return undefined;
  const exporter = nonEmpty(env.OTEL_TRACES_EXPORTER)?.toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== 'otlp') throw new TracingConfigError(`OTEL_TRACES_EXPORTER=${exporter} is not supported (otlp or none)`);

  const flag = nonEmpty(flags.otlpEndpoint);
  const signal = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const base = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const url = flag !== undefined ? tracesUrl(flag) : (signal ?? (base === undefined ? undefined : tracesUrl(base)));
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new TracingConfigError(`OTLP endpoint must be an http(s) URL, got "${url}"`);
  }

  const protocol = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? 'http/protobuf';
  if (protocol !== 'http/protobuf') throw new TracingConfigError(`OTLP protocol ${protocol} is not supported; Tollgate exports http/protobuf`);

  const headers = {
    ...parseKeyValueList(nonEmpty(env.OTEL_EXPORTER_OTLP_HEADERS), 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseKeyValueList(nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
  };
  const timeoutText = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? '10000';
  const timeoutMs = Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TracingConfigError(`OTLP timeout must be a positive number of ms, got "${timeoutText}"`);

  const samplerText = (nonEmpty(env.OTEL_TRACES_SAMPLER) ?? 'parentbased_always_on').toLowerCase();
  if (!(SAMPLERS as readonly string[]).includes(samplerText)) {
    throw new TracingConfigError(`OTEL_TRACES_SAMPLER=${samplerText} is not supported (${SAMPLERS.join(', ')})`);
  }
  const sampler = samplerText as SamplerName;
  const argText = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
  const samplerRatio = argText === undefined ? 1 : Number(argText);
  if (sampler.endsWith('traceidratio') && !(samplerRatio >= 0 && samplerRatio <= 1)) {
    throw new TracingConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio in 0..1, got "${argText}"`);
  }

  // The span-specific variable wins over the general one, as in the SDK.
  const limitName = nonEmpty(env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT) !== undefined ? 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT' : 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT';
  const limitText = nonEmpty(env[limitName]);
  const attributeValueLengthLimit = limitText === undefined ? DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT : Number(limitText);
  if (!Number.isSafeInteger(attributeValueLengthLimit) || attributeValueLengthLimit <= 0) {
    throw new TracingConfigError(`${limitName} must be a positive number of characters, got "${limitText}"`);
  }

  const resourceAttributes = parseKeyValueList(nonEmpty(env.OTEL_RESOURCE_ATTRIBUTES), 'OTEL_RESOURCE_ATTRIBUTES');
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? resourceAttributes['service.name'] ?? defaults.serviceName;
  return { url, headers, timeoutMs, sampler, samplerRatio, serviceName, serviceVersion: defaults.serviceVersion, resourceAttributes, attributeValueLengthLimit };
}

/** service.version on every span: package.json's version (the chart render test checks; docs/upgrade.md#versions). */
export const TOLLGATE_VERSION = '0.1.0';
