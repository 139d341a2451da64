import { describe, expect, it } from 'vitest';
import { parseTracingConfig, TracingConfigError } from './tracing-config.js';

const defaults = { serviceName: 'tollgate-dataplane', serviceVersion: '0.1.0' };

describe('parseTracingConfig', () => {
  it('is off without an endpoint, with OTEL_SDK_DISABLED and with OTEL_TRACES_EXPORTER=none', () => {
    expect(parseTracingConfig({}, {}, defaults)).toBeUndefined();
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, {}, defaults)).toBeUndefined();
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, {}, defaults)).toBeUndefined();
  });

  it('reads the standard variables', () => {
    const c = parseTracingConfig(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-tenant=t1',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_SERVICE_NAME: 'gw',
        OTEL_RESOURCE_ATTRIBUTES: 'k8s.pod.name=p-1,deployment.environment=prod',
      },
      {},
      defaults,
    );
    expect(c).toEqual({
      url: 'http://collector:4318/v1/traces',
      headers: { authorization: 'Bearer abc', 'x-tenant': 't1' },
      timeoutMs: 10_000,
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      serviceName: 'gw',
      serviceVersion: '0.1.0',
      resourceAttributes: { 'k8s.pod.name': 'p-1', 'deployment.environment': 'prod' },
      attributeValueLengthLimit: 4096,
    });
  });

  it('bounds attribute values as OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, else at 4096 characters', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    const limit = (more: Record<string, string>) => parseTracingConfig({ ...env, ...more }, {}, defaults)?.attributeValueLengthLimit;
    expect(limit({})).toBe(4096);
    expect(limit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100' })).toBe(100);
    expect(limit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1000000' })).toBe(1_000_000);
    expect(limit({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: ' ' })).toBe(4096);
    for (const bad of ['0', '-5', '12.5', 'lots']) {
      expect(() => limit({ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: bad })).toThrow(/OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT must be a positive number/);
    }
  });

  it('prefers the flag, then the traces-specific endpoint (used as is)', () => {
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }, { otlpEndpoint: 'http://flag:4318' }, defaults)?.url).toBe('http://flag:4318/v1/traces');
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/custom' }, {}, defaults)?.url).toBe('http://b/custom');
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' }, {}, defaults)).toMatchObject({ sampler: 'parentbased_always_on', serviceName: 'tollgate-dataplane' });
  });

  it('refuses what it cannot honour', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' };
    expect(() => parseTracingConfig({ ...env, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, {}, defaults)).toThrow(TracingConfigError);
    expect(() => parseTracingConfig({ ...env, OTEL_TRACES_SAMPLER: 'jaeger_remote' }, {}, defaults)).toThrow(/not supported/);
    expect(() => parseTracingConfig({ ...env, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, {}, defaults)).toThrow(/ratio/);
    expect(() => parseTracingConfig({ ...env, OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, {}, defaults)).toThrow(/key=value/);
    expect(() => parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, {}, defaults)).toThrow(/http/);
  });

  it('names a malformed header item by its position and key, never by its value (a credential, bound for the pod log)', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' };
    const message = (headers: string): string => {
      try {
        parseTracingConfig({ ...env, OTEL_EXPORTER_OTLP_HEADERS: headers }, {}, defaults);
      } catch (err) {
        expect(err).toBeInstanceOf(TracingConfigError);
        return (err as Error).message;
      }
      throw new Error('parsed');
    };
    expect(message('x-honeycomb-team=hcSECRET%key123')).toBe('OTEL_EXPORTER_OTLP_HEADERS: bad percent-encoding in the value of "x-honeycomb-team" (item 1)');
    expect(message('authorization=Basic dXNlcjpTRUNSRVQ=,SECRET-after-comma')).toBe('OTEL_EXPORTER_OTLP_HEADERS: item 2 is not key=value');
    expect(message('x-tenant=t1,SECRET%zz=1')).toBe('OTEL_EXPORTER_OTLP_HEADERS: bad percent-encoding in the key of item 2');
  });
});
