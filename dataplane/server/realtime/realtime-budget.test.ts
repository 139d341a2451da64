import { describe, expect, it } from 'vitest';
import type { Admission, AdmissionRequest, Admitter } from '../../governance/types.js';
import { caller, testRoute } from '../../governance/rate-limit/test-support.js';
import { RealtimeBudget } from './realtime-budget.js';

const NOTHING: Admission = { headers: {}, settle: () => undefined, charge: () => undefined };

/** Grants every hold and notes the output it was asked to hold, and how many holds are open. */
class Recorder implements Admitter {
  readonly held: number[] = [];
  open = 0;
  readonly admitNow = (request: AdmissionRequest): Admission => {
    this.held.push(request.maxOutputTokens);
    this.open++;
    return { headers: {}, charge: () => undefined, settle: () => void this.open-- };
  };
  admit(request: AdmissionRequest): Promise<Admission> {
    return Promise.resolve(this.admitNow(request));
  }
}

function budget(): { rt: RealtimeBudget; recorder: Recorder } {
  const recorder = new Recorder();
  const rt = new RealtimeBudget({
    connection: NOTHING,
    admitters: [recorder],
    caller: caller('voice'),
    route: testRoute([]),
    budgets: [],
    toUpstream: () => undefined,
    toClient: () => undefined,
    targetOutputCap: (prompt) => 4096 - prompt,
  });
  return { rt, recorder };
}

const send = (rt: RealtimeBudget, event: Record<string, unknown>): void => rt.fromClient(JSON.stringify(event), { inputTokens: 10, outputTokens: 0, cachedInputTokens: 0 }, () => undefined);

describe('RealtimeBudget holds each response at its worst case output', () => {
  it("the response's own cap, else the session's, else the target's; `inf` on the response is the target's", () => {
    const { rt, recorder } = budget();
    // Before, a response that set no cap was held at the last response's output (none before the first ended): 0.
    send(rt, { type: 'response.create' });
    send(rt, { type: 'response.create', response: { max_output_tokens: 50 } });
    send(rt, { type: 'response.create', response: { max_response_output_tokens: 70 } });
    // The upstream's session says 300, the client asks 200: the larger until the upstream confirms.
    rt.fromUpstream(JSON.stringify({ type: 'session.created', session: { max_response_output_tokens: 300 } }));
    send(rt, { type: 'session.update', session: { max_response_output_tokens: 200 } });
    send(rt, { type: 'response.create' });
    rt.fromUpstream(JSON.stringify({ type: 'session.updated', session: { max_response_output_tokens: 200 } }));
    send(rt, { type: 'response.create' });
    send(rt, { type: 'response.create', response: { max_output_tokens: 'inf' } });
    // GA's name, and `inf` on the session: the target's again.
    send(rt, { type: 'session.update', session: { max_output_tokens: 'inf' } });
    send(rt, { type: 'response.create' });
    expect(recorder.held).toEqual([4086, 50, 70, 300, 200, 4086, 4086]);
  });

  it('a hold is released when its response ends (its usage charged in its place), and all at the close', () => {
    const { rt, recorder } = budget();
    send(rt, { type: 'response.create' });
    send(rt, { type: 'response.create' });
    expect(recorder.open).toBe(2);
    rt.started('{"type":"response.created"}');
    rt.done();
    expect(recorder.open).toBe(1);
    rt.close();
    expect(recorder.open).toBe(0);
  });
});
