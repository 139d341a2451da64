import { describe, expect, it } from 'vitest';
import { LiveStreams } from './live-streams.js';

describe('LiveStreams', () => {
  it('cuts every tracked stream and resolves once they have all ended', async () => {
    const live = new LiveStreams();
    const reasons: string[] = [];
    const ends: (() => void)[] = [];
    for (let i = 0; i < 3; i++) {
      const untrack = live.track((reason) => {
        reasons.push(reason.message);
        // Each stream ends a moment after it is cut, as a pump writing its error event does.
        setTimeout(() => ends[i]?.(), 5 * (i + 1));
      });
      ends.push(untrack);
    }
    // Far past the test's own timeout: resolving at all means it did not wait for the grace.
    await live.cutAll(new Error('drain ended'), 600_000);
    expect(reasons).toEqual(['drain ended', 'drain ended', 'drain ended']);
    expect(live.size).toBe(0);
  });

  it('stops waiting after the grace for a stream that never ends, and has nothing to wait for when none runs', async () => {
    const live = new LiveStreams();
    await live.cutAll(new Error('x'), 60_000);
    live.track(() => undefined);
    let resolved = false;
    const cut = live.cutAll(new Error('x'), 50).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(resolved).toBe(false);
    await cut;
    expect(live.size).toBe(1);
  });
});
