import type { CaptureDestination } from '../bounded-exporter.js';
import type { CaptureRecord } from '../capture-record.js';
import { lineGroups, type LineGroup, parseGroups } from '../line-batch.js';
import { warmUpRecord } from '../warm-up.js';
import { send } from './http-send.js';

/** The GenAI semantic-convention event for one inference, which collectors can route on. */
export const GENAI_EVENT_NAME = 'gen_ai.client.inference.operation.details';

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
const str = (key: string, value: string | undefined): { key: string; value: AnyValue }[] => (value === undefined ? [] : [{ key, value: { stringValue: value } }]);
const int = (key: string, value: number | undefined): { key: string; value: AnyValue }[] => (value === undefined ? [] : [{ key, value: { intValue: String(Math.round(value)) } }]);

/** One record as an OTLP log record (JSON encoding): GenAI attributes, the whole record as the body. */
export function otlpLogRecord(r: CaptureRecord): Record<string, unknown> {
  const nanos = `${BigInt(Date.parse(r.time)) * 1_000_000n}`;
  const attributes = [
    ...str('gen_ai.operation.name', 'chat'),
    ...str('gen_ai.request.model', r.model),
    ...str('gen_ai.response.model', r.upstreamModel),
    ...str('gen_ai.provider.name', r.provider),
    ...int('gen_ai.usage.input_tokens', r.tokens?.input),
    ...int('gen_ai.usage.output_tokens', r.tokens?.output),
    ...str('gen_ai.input.messages', r.content?.request === undefined ? undefined : JSON.stringify(r.content.request)),
    ...str('gen_ai.output.messages', r.content?.response === undefined ? undefined : JSON.stringify(r.content.response)),
    ...str('tollgate.request_id', r.requestId),
    ...str('tollgate.namespace', r.namespace),
    ...str('tollgate.route', r.route),
    ...str('tollgate.data_policy', r.policy.id),
    ...str('tollgate.capture.mode', r.policy.mode),
  ];
  const record: Record<string, unknown> = {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: 9,
    severityText: 'INFO',
    eventName: GENAI_EVENT_NAME,
    body: { stringValue: JSON.stringify(r) },
    attributes,
  };
  if (r.traceId !== undefined) record.traceId = r.traceId;
  if (r.spanId !== undefined) record.spanId = r.spanId;
  return record;
}

/** An export request of the batch's records (OTLP/HTTP JSON). */
function exportBody(batch: readonly LineGroup[]): Buffer {
  const body = {
    resourceLogs: [
      {
        resource: { attributes: str('service.name', 'tollgate') },
        scopeLogs: [{ scope: { name: 'tollgate.capture' }, logRecords: parseGroups(batch).map(otlpLogRecord) }],
      },
    ],
  };
  return Buffer.from(JSON.stringify(body));
}

/**
 * OTLP/HTTP JSON to <endpoint>/v1/logs. A non-2xx answer or a network error fails the batch. The
 * attributes need the record's fields, so each is parsed back from its lines here, off the request path.
 */
export function otlpLogsDestination(endpoint: string, timeoutMs = 10_000): CaptureDestination {
  return {
    async write(batch) {
      const res = await send(new URL(`${endpoint}/v1/logs`), 'POST', { 'content-type': 'application/json' }, exportBody(batch), timeoutMs);
      if (res.status < 200 || res.status > 299) throw new Error(`OTLP logs endpoint answered ${res.status}`);
    },
    async warm() {
      exportBody(lineGroups([warmUpRecord()]));
    },
  };
}
