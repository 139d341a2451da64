import { serialiseRecord, type SerialisedRecord } from '../../dataplane/policy/capture/capture-record.js';

/** A served Full-mode capture record of `policyId` for a request that arrived at `timeMs`, as the retention tests store them. */
export function storedRecord(policyId: string, namespace: string, timeMs: number, requestId: string): SerialisedRecord {
  return serialiseRecord({
    schema: 'tollgate.capture.v1',
    requestId,
    time: new Date(timeMs).toISOString(),
    durationMs: 1,
    namespace,
    caller: { kind: 'serviceaccount', namespace, name: 'app' },
    model: 'chat',
    stream: false,
    status: 200,
    decision: 'served',
    policy: { id: policyId, mode: 'Full' },
    content: { request: { messages: [{ role: 'user', content: `prompt ${requestId}` }] } },
  });
}
