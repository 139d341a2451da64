/**
 * CPU per request of the data plane's tracing alone, the OpenTelemetry SDK against the lean tracer
 * (dataplane/telemetry/lean-tracer.ts + otlp-span-encoder.ts), in one process, rounds alternating:
 * the spans one governance-on chat request makes (SERVER + one CLIENT, the recorders' attributes,
 * traceparent injected upstream), ended and encoded to OTLP protobuf in batches of 512 (no network).
 *   node --import tsx bench/span-cost.ts [requests per round=40000] [rounds=4]
 */
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { LeanTracer, type LeanSpan } from '../dataplane/telemetry/lean-tracer.js';
import { clockOf, OtlpSpanEncoder } from '../dataplane/telemetry/otlp-span-encoder.js';

const [requestsArg, roundsArg] = process.argv.slice(2);
const requests = Number(requestsArg ?? 40_000);
const rounds = Number(roundsArg ?? 4);

const resource = resourceFromAttributes({ 'service.name': 'tollgate', 'service.version': '0.1.0', 'host.name': 'bench', 'process.pid': process.pid });
let bytes = 0;
const exporter: SpanExporter = {
  export(spans, done) {
    bytes += ProtobufTraceSerializer.serializeRequest(spans)?.length ?? 0;
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: async () => undefined,
};
const processor = new BatchSpanProcessor(exporter);
const sdk = new BasicTracerProvider({ resource, sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), spanProcessors: [processor] }).getTracer('tollgate', '0.1.0');

const encoder = new OtlpSpanEncoder({ resource: resource.attributes, scopeName: 'tollgate', scopeVersion: '0.1.0' }, clockOf(performance.timeOrigin));
let queue: LeanSpan[] = [];
const lean = new LeanTracer(new ParentBasedSampler({ root: new AlwaysOnSampler() }), {
  ended(span) {
    queue.push(span);
    if (queue.length < 512) return;
    bytes += encoder.encode(queue).length;
    queue = [];
  },
});

const propagator = new W3CTraceContextPropagator();
const incoming = { 'content-type': 'application/json' };

/** What request-recorder.ts and attempt-recorder.ts do to the spans of one served chat request. */
function request(tracer: Tracer): void {
  const parent = propagator.extract(ROOT_CONTEXT, incoming, defaultTextMapGetter);
  const server = tracer.startSpan(
    'chat',
    { kind: SpanKind.SERVER, attributes: { 'gen_ai.operation.name': 'chat', 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'url.path': '/v1/chat/completions' } },
    parent,
  );
  const context = trace.setSpan(parent, server);
  server.setAttributes({ 'tollgate.caller.kind': 'apikey', 'tollgate.caller.namespace': 'bench', 'tollgate.caller.name': 'bench-key' });
  server.updateName('chat emu');
  server.setAttributes({ 'gen_ai.request.model': 'emu', 'tollgate.route': 'bench/emu', 'tollgate.request_id': 'a0f3c1d2-1111-2222-3333-444455556666', 'gen_ai.request.max_tokens': 16 });
  server.setAttribute('tollgate.admission', 'admitted');
  const client = tracer.startSpan(
    'chat emu',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'emu',
        'tollgate.route': 'bench/emu',
        'tollgate.provider': 'bench/emu',
        'tollgate.attempt': 1,
        'server.address': '127.0.0.1',
        'server.port': 40000,
      },
    },
    context,
  );
  propagator.inject(trace.setSpan(parent, client), {}, defaultTextMapSetter);
  client.setAttribute('http.response.status_code', 200);
  client.setAttributes({ 'gen_ai.response.model': 'emu', 'gen_ai.response.id': 'chatcmpl-123', 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 16 });
  client.end();
  server.setAttributes({
    'http.response.status_code': 200,
    'tollgate.attempts': 1,
    'tollgate.cache_hit': false,
    'tollgate.rule': 'default',
    'tollgate.provider': 'bench/emu',
    'gen_ai.provider.name': 'openai',
    'gen_ai.response.model': 'emu',
    'gen_ai.response.finish_reasons': ['stop'],
    'tollgate.cost_usd': 0.00012,
    'tollgate.usage.estimated': false,
    'gen_ai.usage.input_tokens': 12,
    'gen_ai.usage.output_tokens': 16,
  });
  server.end();
}

async function round(tracer: Tracer): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) {
    request(tracer);
    // Let the batch processor's timers and promises run, as between requests of a server.
    if (i % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await processor.forceFlush();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
}

const ratios: number[] = [];
for (let r = 1; r <= rounds; r++) {
  const a = await round(sdk);
  const b = await round(lean);
  ratios.push(b / a);
  process.stdout.write(`round ${r}: SDK ${a.toFixed(2)} µs/request, lean ${b.toFixed(2)} µs/request, lean/SDK ${(b / a).toFixed(3)}\n`);
}
process.stdout.write(`lean/SDK per round ${ratios.map((x) => x.toFixed(3)).join(', ')} (${(bytes / 1e6).toFixed(1)} MB of OTLP encoded)\n`);
