import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ListenerMark } from './listener-mark.js';

describe('ListenerMark', () => {
  it('removes what was added since the mark (once wrappers too), keeps what was there: the count stays bounded over many attempts', () => {
    const emitter = new EventEmitter();
    const own = (): void => undefined;
    emitter.on('close', own);
    emitter.on('error', own);
    const mark = new ListenerMark(emitter, ['close', 'error']);
    for (let attempt = 0; attempt < 20; attempt++) {
      mark.removeAdded();
      emitter.on('close', () => undefined);
      emitter.once('close', () => undefined);
      emitter.on('close', own);
      emitter.on('error', () => undefined);
      expect(emitter.listenerCount('close')).toBe(4);
    }
    mark.removeAdded();
    expect(emitter.listeners('close')).toEqual([own]);
    expect(emitter.listeners('error')).toEqual([own]);
  });
});
