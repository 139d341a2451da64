import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { boundedMessage, MAX_CONDITION_MESSAGE } from '../compile/conditions.js';
import { EventRecorder, MAX_EVENT_MESSAGE } from './event-recorder.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { cutWithin } from './text-cut.js';

/** A string is well-formed UTF-16 when it has no half surrogate pair (what the API server would store as U+FFFD). */
const wellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('cutWithin', () => {
  it('cuts before a surrogate pair the bound falls inside, else at the bound', () => {
    expect(cutWithin('ab😀c', 3)).toBe('ab');
    expect(cutWithin('ab😀c', 4)).toBe('ab😀');
    expect(cutWithin('abcd', 3)).toBe('abc');
    expect(cutWithin('ab', 3)).toBe('ab');
  });
});

describe('EventRecorder', () => {
  it(`cuts a message to ${MAX_EVENT_MESSAGE} UTF-16 units on a character's boundary (never half an emoji)`, async () => {
    const bodies: Array<{ message: string }> = [];
    const client = { request: async (_m: string, _p: string, body: { message: string }) => void bodies.push(body) } as unknown as KubeClient;
    const object = { apiVersion: 'tollgate.dev/v1alpha1', kind: 'Budget', metadata: { name: 'b', namespace: 'team-a', uid: 'u' } } as KubeObject;
    await new EventRecorder(client, 'op-1', pino({ level: 'silent' })).record(object, 'Warning', 'Odd', `${'a'.repeat(MAX_EVENT_MESSAGE - 1)}😀 and more`);
    const message = bodies[0]?.message ?? '';
    expect(message).toBe('a'.repeat(MAX_EVENT_MESSAGE - 1));
    expect(wellFormed(message)).toBe(true);
  });
});

describe('boundedMessage', () => {
  it("cuts a condition's message on a character's boundary", () => {
    const long = `a${'😀'.repeat(MAX_CONDITION_MESSAGE)}`;
    const cut = boundedMessage(long);
    expect(cut.length).toBeLessThanOrEqual(MAX_CONDITION_MESSAGE);
    expect(wellFormed(cut)).toBe(true);
  });
});
