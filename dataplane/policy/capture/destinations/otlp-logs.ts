import { type CaptureDestination, PartialWrite } from '../bounded-exporter.js';
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

/**
 * The most bytes one export request carries. The Collector's OTLP/HTTP receiver refuses a body over
 * 20 MiB by default (confighttp `max_request_body_size`), and a record carries its content twice (in
 * the body and in the gen_ai attributes): a batch of 100 records of 100 KB prompts is already past
 * it. A record larger than this goes alone.
 */
export const MAX_EXPORT_BYTES = 8 * 1024 * 1024;

// An ExportLogsServiceRequest with no log records, split where they go: each request is head, its
// records' JSON joined by commas, tail (what JSON.stringify of the whole request writes).
const EMPTY_EXPORT = JSON.stringify({
  resourceLogs: [{ resource: { attributes: str('service.name', 'tollgate') }, scopeLogs: [{ scope: { name: 'tollgate.capture' }, logRecords: [] }] }],
});
const RECORDS_AT = EMPTY_EXPORT.indexOf('"logRecords":[') + '"logRecords":['.length;
const EXPORT_HEAD = EMPTY_EXPORT.slice(0, RECORDS_AT);
const EXPORT_TAIL = EMPTY_EXPORT.slice(RECORDS_AT);

/** The export requests of the batch's records (OTLP/HTTP JSON), each at most maxBytes unless one record alone is larger, with how many records each carries. */
export function exportBodies(batch: readonly LineGroup[], maxBytes = MAX_EXPORT_BYTES): { body: Buffer; records: number }[] {
  const bodies: { body: Buffer; records: number }[] = [];
  let records: string[] = [];
  let bytes = EXPORT_HEAD.length + EXPORT_TAIL.length;
  const close = (): void => {
    bodies.push({ body: Buffer.from(`${EXPORT_HEAD}${records.join(',')}${EXPORT_TAIL}`), records: records.length });
    records = [];
    bytes = EXPORT_HEAD.length + EXPORT_TAIL.length;
  };
  for (const record of parseGroups(batch)) {
    const json = JSON.stringify(otlpLogRecord(record));
    const size = Buffer.byteLength(json) + 1;
    if (records.length > 0 && bytes + size > maxBytes) close();
    records.push(json);
    bytes += size;
  }
  // An empty batch (never written by a queue) is one empty request, as it always was.
  if (records.length > 0 || bodies.length === 0) close();
  return bodies;
}

/** An endpoint that answered, but not with 2xx (it refused this request, and may take the next). */
class Refused extends Error {}

/**
 * OTLP/HTTP JSON to <endpoint>/v1/logs, in requests of at most MAX_EXPORT_BYTES. A request the
 * endpoint refuses (a non-2xx answer) fails its records and the next request goes; a network error
 * or a timeout fails it and the rest of the batch. Records in requests it took count as written
 * (PartialWrite). The attributes need the record's fields, so each is parsed back from its lines
 * here, off the request path.
 */
export function otlpLogsDestination(endpoint: string, timeoutMs = 10_000, maxExportBytes = MAX_EXPORT_BYTES): CaptureDestination {
  return {
    async write(batch) {
      // Made here, not once: a URL that does not parse fails its writes (counted), not the queue's creation.
      const url = new URL(`${endpoint}/v1/logs`);
      let written = 0;
      let failure: unknown;
      for (const { body, records } of exportBodies(batch, maxExportBytes)) {
        try {
          const res = await send(url, 'POST', { 'content-type': 'application/json' }, body, timeoutMs);
          if (res.status < 200 || res.status > 299) throw new Refused(`OTLP logs endpoint answered ${res.status}`);
          written += records;
        } catch (error) {
          failure ??= error;
          if (!(error instanceof Refused)) break;
        }
      }
      if (failure !== undefined) throw written > 0 ? new PartialWrite(written, failure) : failure;
    },
    async warm() {
      exportBodies(lineGroups([warmUpRecord()]));
    },
  };
}
