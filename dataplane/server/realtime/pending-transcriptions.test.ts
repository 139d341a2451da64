import { describe, expect, it } from 'vitest';
import type { Admission } from '../../governance/types.js';
import { MAX_CREATED_ITEMS, MAX_PENDING_TRANSCRIPTIONS, PendingTranscriptions } from './pending-transcriptions.js';

function hold(): Admission & { settled: number } {
  const h = { headers: {}, settled: 0, charge: () => undefined, settle: () => void h.settled++ };
  return h;
}

describe('PendingTranscriptions', () => {
  it('gives each committed item the audio sent since the last commit, less what a confirmed clear dropped', () => {
    const p = new PendingTranscriptions();
    expect(p.committed('a', 2, 'm')?.pending.seconds).toBe(2);
    p.clientCleared(5);
    // A commit the upstream made before it saw the clear takes the audio up to it.
    expect(p.committed('b', 4, 'm')?.pending.seconds).toBe(2);
    p.cleared();
    expect(p.committed('c', 6, 'm')?.pending.seconds).toBe(1);
    // No transcription model: the audio is taken all the same, nothing pending.
    expect(p.committed('d', 7, undefined)).toBeUndefined();
    expect(p.close().map((t) => t.seconds)).toEqual([2, 2, 1]);
  });

  it('keeps at most MAX_PENDING_TRANSCRIPTIONS apart, the rest summed and dropped only once all of them are reported', () => {
    const p = new PendingTranscriptions();
    for (let i = 0; i < MAX_PENDING_TRANSCRIPTIONS + 2; i++) p.committed(`i${i}`, i + 1, 'm');
    p.ended(`i${MAX_PENDING_TRANSCRIPTIONS}`);
    const left = p.close();
    expect(left).toHaveLength(MAX_PENDING_TRANSCRIPTIONS + 1);
    expect(left.at(-1)?.seconds).toBe(2);
    const q = new PendingTranscriptions();
    for (let i = 0; i < MAX_PENDING_TRANSCRIPTIONS + 2; i++) q.committed(`i${i}`, i + 1, 'm');
    q.ended('x');
    q.ended('y');
    expect(q.close()).toHaveLength(MAX_PENDING_TRANSCRIPTIONS);
  });

  it('releases a hold when its item is reported, at the close, or at once when granted after either', () => {
    const p = new PendingTranscriptions();
    const a = p.committed('a', 1, 'm');
    const b = p.committed('b', 2, 'm');
    if (a === undefined || b === undefined) throw new Error('not pending');
    const ha = hold();
    const hb = hold();
    p.held(a.itemId, a.pending, ha);
    p.ended('a');
    expect(ha.settled).toBe(1);
    p.ended('b');
    // Granted after its transcription was reported (Redis answered late): released at once.
    p.held(b.itemId, b.pending, hb);
    expect(hb.settled).toBe(1);
    expect(p.close()).toEqual([]);
  });

  it('matches an item created with audio to the upstream item that adds it: by the id the client gave, else the oldest unnamed; not the last commit, not one refused', () => {
    const p = new PendingTranscriptions();
    p.clientCreated({ eventId: 'e1', itemId: undefined, seconds: 1 });
    p.clientCreated({ eventId: 'e2', itemId: 'mine', seconds: 2 });
    p.clientCreated({ eventId: 'e3', itemId: undefined, seconds: 3 });
    p.clientCreated({ eventId: 'e4', itemId: undefined, seconds: 4 });
    p.refused('e3');
    // The commit's own item.added is no created item.
    p.committed('vad_1', 0.5, 'm');
    expect(p.added('vad_1', 'm')).toBeUndefined();
    expect(p.added('mine', 'm')?.pending.seconds).toBe(2);
    expect(p.added('up_1', 'm')?.pending.seconds).toBe(1);
    // Added while the session transcribes nothing: not pending.
    expect(p.added('up_2', undefined)).toBeUndefined();
    expect(p.added('up_3', 'm')).toBeUndefined();
    expect(p.close().map((t) => t.seconds)).toEqual([0.5, 2, 1]);
  });

  it(`awaits at most ${MAX_CREATED_ITEMS} created items apart; the seconds of the rest go whole to the first of them added`, () => {
    const p = new PendingTranscriptions();
    for (let i = 0; i < MAX_CREATED_ITEMS + 3; i++) p.clientCreated({ eventId: undefined, itemId: undefined, seconds: 1 });
    for (let i = 0; i < MAX_CREATED_ITEMS; i++) p.added(`a${i}`, undefined);
    // Not transcribed when the first spilled one is added: their seconds wait for one that is.
    expect(p.added('s1', undefined)).toBeUndefined();
    expect(p.added('s2', 'm')?.pending.seconds).toBe(3);
    expect(p.added('s3', 'm')?.pending.seconds).toBe(0);
    expect(p.added('s4', 'm')).toBeUndefined();
  });
});
