import { describe, expect, it } from 'vitest';
import { eventsInTheirNamespace } from './usage-reading.js';

describe('the Events the console shows', () => {
  it('are only those stored in the namespace of the object they name', () => {
    const own = { metadata: { namespace: 'team-a' }, involvedObject: { kind: 'ModelRoute', namespace: 'team-a', name: 'chat' }, reason: 'Conflicted' };
    // Written in team-a, naming the platform's Provider: the API server accepts it when eventTime is set.
    const forged = { metadata: { namespace: 'team-a' }, involvedObject: { kind: 'Provider', namespace: 'platform', name: 'openai' }, reason: 'RotateYourKey' };
    const unplaced = { metadata: {}, involvedObject: { kind: 'ModelRoute', namespace: 'team-a', name: 'chat' }, reason: 'X' };
    expect(eventsInTheirNamespace([own, forged, unplaced])).toEqual([own]);
  });
});
