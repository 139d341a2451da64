import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from './kube-client.js';
import { cutWithin } from './text-cut.js';

/** The longest message an Event carries: past it, it is cut (on a character's boundary). */
export const MAX_EVENT_MESSAGE = 1024;

/** Writes core/v1 Events about Tollgate objects (kubectl describe shows them). */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly identity: string,
    private readonly logger: Logger,
  ) {}

  async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = object.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    try {
      await this.client.request('POST', `/api/v1/namespaces/${ns}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${object.metadata.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.metadata.name,
          namespace: ns,
          uid: object.metadata.uid,
        },
        type,
        reason,
        message: cutWithin(message, MAX_EVENT_MESSAGE),
        source: { component: 'tollgate-operator' },
        reportingComponent: 'tollgate.dev/operator',
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, reason }, 'could not record event');
    }
  }
}
