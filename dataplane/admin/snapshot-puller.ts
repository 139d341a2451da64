import type { Logger } from 'pino';
import { type Dispatcher, request } from '../config/undici.js';
import { SnapshotEnvelopeSchema } from '../config/snapshot-envelope.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { namesLines, parseLinesSteps, SNAPSHOT_LINES_TYPE } from '../config/snapshot-lines.js';
import { runSliced } from '../config/sliced.js';

/**
 * On start, asks the operator for the current snapshot so that a new pod becomes ready without
 * waiting for the next push. Retries with backoff until this pod has a snapshot from any source.
 */
export async function pullSnapshot(
  store: SnapshotStore,
  operatorUrl: string,
  token: string,
  logger: Logger,
  signal: AbortSignal,
  dispatcher?: Dispatcher,
): Promise<void> {
  let delay = 250;
  while (!signal.aborted && store.current === undefined) {
    try {
      const res = await request(`${operatorUrl.replace(/\/$/, '')}/v1/snapshot`, {
        // The line form parses in slices (snapshot-lines.ts); an operator from before it answers JSON.
        headers: { authorization: `Bearer ${token}`, accept: `${SNAPSHOT_LINES_TYPE}, application/json;q=0.5` },
        ...(dispatcher === undefined ? {} : { dispatcher }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      });
      const text = await res.body.text();
      if (res.statusCode === 200) {
        let body: unknown;
        if (namesLines(res.headers['content-type'])) {
          const lines = await runSliced(parseLinesSteps(text), store.sliceOptions);
          if (!lines.ok) throw new Error(`pulled snapshot: ${lines.error}`);
          body = lines.value;
        } else {
          body = JSON.parse(text);
        }
        const envelope = SnapshotEnvelopeSchema.parse(body);
        const applied = await store.applyGenerationSliced(envelope.generation, envelope.snapshot, envelope.term);
        if (applied.ok) {
          logger.info({ generation: envelope.generation, version: applied.version }, 'snapshot pulled from the operator');
          return;
        }
        logger.warn({ error: applied.error }, 'pulled snapshot refused');
      } else {
        logger.debug({ status: res.statusCode }, 'operator has no snapshot for us yet');
      }
    } catch (err) {
      if (signal.aborted) return;
      logger.debug({ err: (err as Error).message }, 'snapshot pull failed');
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5_000);
  }
}
