import type { EventEmitter } from 'node:events';

type Listener = ReturnType<EventEmitter['listeners']>[number];

/**
 * The listeners an emitter has for some events now, so that those added later can be removed.
 * The proxy (httpxy) ties every attempt to the client's response with listeners it never removes
 * (three on `close`, one on `error`) and ties the upstream's answer to that response too (a close
 * before its end destroys it): an attempt abandoned for the next target must be untied, or its
 * listeners pile up (MaxListenersExceededWarning from the second target on) and its answer can
 * still destroy the response the next target is writing. Only the proxy adds such listeners between
 * the mark and the removal; a listener added twice is kept as many times as it was marked.
 */
export class ListenerMark {
  private readonly kept = new Map<string, Listener[]>();

  constructor(
    private readonly emitter: EventEmitter,
    private readonly events: readonly string[],
  ) {
    for (const event of events) this.kept.set(event, emitter.listeners(event));
  }

  /** Removes every listener of the marked events that was added since the mark. */
  removeAdded(): void {
    for (const event of this.events) {
      const left = [...(this.kept.get(event) ?? [])];
      for (const listener of this.emitter.listeners(event)) {
        const at = left.indexOf(listener);
        if (at >= 0) left.splice(at, 1);
        // removeListener takes the wrapper `once` made when given what it wraps, as listeners() returns it.
        else this.emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}
