import { describe, expect, it, vi } from 'vitest';
import type { Admission, AdmissionRequest, Admitter } from '../../governance/types.js';
import { caller, testRoute } from '../../governance/rate-limit/test-support.js';
import { GatewayError } from '../../core/gateway-error.js';
import { MAX_RESPONSES_IN_FLIGHT, MAX_RUNNING, MAX_WAITING, RealtimeBudget } from './realtime-budget.js';

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

function budget(recorder = new Recorder()): { rt: RealtimeBudget; recorder: Recorder; upstream: string[]; client: string[] } {
  const upstream: string[] = [];
  const client: string[] = [];
  const rt = new RealtimeBudget({
    connection: NOTHING,
    admitters: [recorder],
    caller: caller('voice'),
    route: testRoute([]),
    budgets: [],
    toUpstream: (text) => void upstream.push(text),
    toClient: (text) => void client.push(text),
    targetOutputCap: (prompt) => 4096 - prompt,
  });
  return { rt, recorder, upstream, client };
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
    rt.started('{"type":"response.created","response":{"id":"resp_1"}}', undefined);
    rt.done('{"type":"response.done","response":{"id":"resp_1"}}');
    expect(recorder.open).toBe(1);
    rt.close();
    expect(recorder.open).toBe(0);
  });

  it('a response the upstream starts by itself (server VAD) is held at its worst case: its input and the session cap, else the target cap', () => {
    const { rt, recorder } = budget();
    const input = { inputTokens: 30, outputTokens: 0, cachedInputTokens: 0 };
    // Before, it was only checked against an exhausted Budget: nothing was held.
    rt.started('{"type":"response.created","response":{"id":"resp_vad1"}}', input);
    rt.fromUpstream(JSON.stringify({ type: 'session.updated', session: { max_output_tokens: 200 } }));
    rt.started('{"type":"response.created","response":{"id":"resp_vad2"}}', input);
    expect(recorder.held).toEqual([4066, 200]);
    expect(recorder.open).toBe(2);
    // Each is released by its own response.done, whatever the order.
    rt.done('{"type":"response.done","response":{"id":"resp_vad2"}}');
    rt.done('{"type":"response.done","response":{"id":"resp_vad1"}}');
    expect(recorder.open).toBe(0);
  });

  it('one the Budgets cannot hold is cancelled upstream (by id, with an event id of the gateway) and the client told; its response.done releases no other hold', () => {
    const recorder = new Recorder();
    let refuse = false;
    const admitNow = recorder.admitNow;
    const refusing: Admitter = {
      admitNow: (request) => {
        if (refuse) throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', 'budget b cannot cover this request\'s worst case; set max_tokens (or max_completion_tokens) to lower the hold');
        return admitNow(request);
      },
      admit: (request) => Promise.resolve(admitNow(request)),
    };
    const upstream: string[] = [];
    const client: string[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [refusing], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: (t) => void upstream.push(t), toClient: (t) => void client.push(t), targetOutputCap: () => 4096 });
    rt.started('{"type":"response.created","response":{"id":"resp_a"}}', undefined);
    refuse = true;
    rt.started('{"type":"response.created","response":{"id":"resp_b"}}', undefined);
    expect(upstream.map((t) => JSON.parse(t) as unknown)).toEqual([{ type: 'response.cancel', event_id: 'tollgate_cancel_1', response_id: 'resp_b' }]);
    expect(JSON.parse(client[0] ?? '{}')).toMatchObject({ type: 'error', error: { code: 'budget_exceeded' } });
    expect(client[0]).toMatch(/the response the server started by itself \(turn detection\) was cancelled/);
    expect(client[0]).not.toMatch(/max_tokens/);
    rt.done('{"type":"response.done","response":{"id":"resp_b","status":"cancelled"}}');
    expect(recorder.open).toBe(1);
    // The upstream's error about the gateway's own cancel (its response had ended) is not the client's.
    expect(rt.failed(JSON.stringify({ type: 'error', error: { code: 'response_cancel_not_active', event_id: 'tollgate_cancel_1' } }))).toBe(true);
  });

  it("an upstream error releases the hold of the response.create it names, not another's; one naming none, the newest", () => {
    const { rt, recorder } = budget();
    send(rt, { type: 'response.create', event_id: 'c1' });
    send(rt, { type: 'response.create', event_id: 'c2' });
    // An error about another event (an invalid session.update) releases nothing: before, it released the newest hold.
    expect(rt.failed(JSON.stringify({ type: 'error', error: { code: 'invalid_value', event_id: 'upd1' } }))).toBe(false);
    expect(recorder.open).toBe(2);
    rt.failed(JSON.stringify({ type: 'error', error: { code: 'invalid_value', event_id: 'c1' } }));
    expect(recorder.open).toBe(1);
    rt.failed(JSON.stringify({ type: 'error', error: { code: 'invalid_value', event_id: null } }));
    expect(recorder.open).toBe(0);
  });
});

describe('RealtimeBudget keeps turns from an upstream that would start a response the Budgets cannot hold', () => {
  /** Refuses every hold while `full`. */
  class Gate implements Admitter {
    full = true;
    readonly admitNow = (): Admission => {
      if (this.full) throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', 'budget default/cap is exhausted');
      return NOTHING;
    };
    admit(): Promise<Admission> {
      return Promise.resolve(this.admitNow());
    }
  }
  const gated = (): { rt: RealtimeBudget; gate: Gate; client: string[]; relayed: string[] } => {
    const gate = new Gate();
    const client: string[] = [];
    const relayed: string[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [gate], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: () => undefined, toClient: (t) => void client.push(t), targetOutputCap: () => 4096 });
    return { rt, gate, client, relayed };
  };
  const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' });
  const item = JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] } });

  it('with server VAD (create_response by default) audio and commits are not relayed while the Budgets refuse, the client told once; relayed again once they can hold one', () => {
    vi.useFakeTimers();
    try {
      const { rt, gate, client, relayed } = gated();
      rt.fromUpstream(JSON.stringify({ type: 'session.created', session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad' } } } } }));
      for (const text of [append, append, JSON.stringify({ type: 'input_audio_buffer.commit' }), item]) rt.fromClient(text, undefined, () => void relayed.push(text));
      // Other events go on: only what makes a turn is kept back.
      expect(relayed).toEqual([item]);
      expect(client).toHaveLength(1);
      expect(JSON.parse(client[0] ?? '{}').error).toMatchObject({ code: 'budget_exceeded', message: expect.stringContaining('input audio is not relayed') });
      gate.full = false;
      rt.fromClient(append, undefined, () => void relayed.push(append));
      expect(relayed).toEqual([item]);
      vi.advanceTimersByTime(1000);
      rt.fromClient(append, undefined, () => void relayed.push(append));
      expect(relayed).toEqual([item, append]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('without turn detection, or with create_response false, audio is relayed whatever the Budgets say (a response.create is held instead)', () => {
    for (const session of [{ type: 'realtime', audio: { input: { turn_detection: null } } }, { turn_detection: { type: 'server_vad', create_response: false } }]) {
      const { rt, client, relayed } = gated();
      rt.fromUpstream(JSON.stringify({ type: 'session.updated', session }));
      rt.fromClient(append, undefined, () => void relayed.push(append));
      expect(relayed).toEqual([append]);
      expect(client).toEqual([]);
    }
  });
});

describe('RealtimeBudget holds the response a turn would start before the turn is relayed', () => {
  /** Holds at most `room` responses at once (a Budget with room for that many). */
  class Room implements Admitter {
    open = 0;
    asked = 0;
    constructor(private readonly room: number) {}
    readonly admitNow = (): Admission => {
      this.asked++;
      if (this.open >= this.room) throw new GatewayError(429, 'budget_exceeded', 'insufficient_quota', 'budget default/cap cannot hold it');
      this.open++;
      let settled = false;
      return { headers: {}, charge: () => undefined, settle: () => void (settled ? undefined : ((settled = true), this.open--)) };
    };
    admit(): Promise<Admission> {
      return Promise.resolve(this.admitNow());
    }
  }
  const vad = JSON.stringify({ type: 'session.created', session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad' } } } } });
  const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' });
  const cancel = JSON.stringify({ type: 'response.cancel' });
  const tokens = (n: number) => ({ inputTokens: n, outputTokens: 0, cachedInputTokens: 0 });
  function session(room: Room): { rt: RealtimeBudget; relayed: string[]; client: string[]; upstream: string[] } {
    const relayed: string[] = [];
    const client: string[] = [];
    const upstream: string[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [room], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: (t) => void upstream.push(t), toClient: (t) => void client.push(t), targetOutputCap: () => 4096 });
    rt.fromUpstream(vad);
    return { rt, relayed, client, upstream };
  }

  it('the turn is held before its audio goes upstream, grown as the client speaks, and handed to its response: two sessions on room for one never both start one', () => {
    const room = new Room(1);
    const a = session(room);
    const b = session(room);
    a.rt.fromClient(append, tokens(10), () => void a.relayed.push(append));
    // Within its room (an eighth and 40 tokens more): not asked again.
    a.rt.fromClient(append, tokens(30), () => void a.relayed.push(append));
    expect(room.asked).toBe(1);
    // Past it: grown, in one step.
    a.rt.fromClient(append, tokens(100), () => void a.relayed.push(append));
    expect(room.asked).toBe(2);
    expect(room.open).toBe(1);
    // Before, the second session's turn was only asked about (nothing held) and relayed too: its response was cancelled at response.created and billed its input.
    b.rt.fromClient(append, tokens(10), () => void b.relayed.push(append));
    expect(a.relayed).toHaveLength(3);
    expect(b.relayed).toEqual([]);
    expect(JSON.parse(b.client[0] ?? '{}').error).toMatchObject({ code: 'budget_exceeded' });
    // The turn's response takes its hold: nothing more is asked, nothing cancelled.
    a.rt.started('{"type":"response.created","response":{"id":"resp_1"}}', tokens(100));
    expect(room.open).toBe(1);
    expect(a.upstream).toEqual([]);
    a.rt.done('{"type":"response.done","response":{"id":"resp_1"}}');
    expect(room.open).toBe(0);
    a.rt.close();
    b.rt.close();
  });

  it('barge-in under a Budget with room for one: a response.cancel always goes through, and the audio after it at once, not a second later', () => {
    vi.useFakeTimers();
    try {
      const room = new Room(1);
      const { rt, relayed } = session(room);
      rt.fromClient(append, tokens(10), () => void relayed.push('turn'));
      rt.started('{"type":"response.created","response":{"id":"resp_1"}}', tokens(10));
      // Speaking over the answer: no room for the next turn while it runs.
      rt.fromClient(append, tokens(20), () => void relayed.push('barge-in'));
      rt.fromClient(cancel, tokens(20), () => void relayed.push('cancel'));
      expect(relayed).toEqual(['turn', 'cancel']);
      rt.done('{"type":"response.done","response":{"id":"resp_1","status":"cancelled"}}');
      // Before, the Budgets were asked again only a second after the refusal: the user's first words were dropped.
      rt.fromClient(append, tokens(30), () => void relayed.push('after'));
      expect(relayed).toEqual(['turn', 'cancel', 'after']);
      rt.close();
      expect(room.open).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a turn hold asked asynchronously (Redis) keeps the events behind it in order', async () => {
    let grant: ((a: Admission) => void) | undefined;
    const slow: Admitter = { admit: () => new Promise<Admission>((r) => (grant = r)) };
    const relayed: string[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [slow], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: () => undefined, toClient: () => undefined, targetOutputCap: () => 4096 });
    rt.fromUpstream(vad);
    rt.fromClient(append, tokens(10), () => void relayed.push('a1'));
    rt.fromClient(cancel, tokens(10), () => void relayed.push('c'));
    rt.fromClient(append, tokens(11), () => void relayed.push('a2'));
    expect(relayed).toEqual([]);
    grant?.(NOTHING);
    await vi.waitFor(() => expect(relayed).toEqual(['a1', 'c', 'a2']));
    rt.close();
  });
});

describe('RealtimeBudget keeps what one session may pile up bounded', () => {
  it(`refuses a response.create past ${MAX_RESPONSES_IN_FLIGHT} asked for and not done (an error event); one ending makes room`, () => {
    const { rt, recorder, client } = budget();
    const relayed: number[] = [];
    for (let i = 0; i < MAX_RESPONSES_IN_FLIGHT + 3; i++) rt.fromClient(JSON.stringify({ type: 'response.create', event_id: `c${i}` }), undefined, () => void relayed.push(i));
    // Before, every one was relayed and kept with its hold until the upstream started and ended it.
    expect(relayed).toHaveLength(MAX_RESPONSES_IN_FLIGHT);
    expect(recorder.open).toBe(MAX_RESPONSES_IN_FLIGHT);
    expect(client.map((c) => JSON.parse(c).error)).toEqual(Array.from({ length: 3 }, (_, i) => expect.objectContaining({ code: 'too_many_responses', event_id: `c${MAX_RESPONSES_IN_FLIGHT + i}` })));
    rt.started('{"type":"response.created","response":{"id":"resp_1"}}', undefined);
    rt.done('{"type":"response.done","response":{"id":"resp_1"}}');
    rt.fromClient(JSON.stringify({ type: 'response.create' }), undefined, () => void relayed.push(-1));
    expect(relayed.at(-1)).toBe(-1);
    rt.close();
    expect(recorder.open).toBe(0);
  });

  it(`keeps track of at most ${MAX_RUNNING} responses the upstream started and did not end: the rest are cancelled; an id announced twice leaves no hold behind`, () => {
    const { rt, recorder, upstream } = budget();
    for (let i = 0; i < MAX_RUNNING + 2; i++) rt.started(`{"type":"response.created","response":{"id":"r${i}"}}`, undefined);
    expect(rt.cutShort(10_000)).toHaveLength(MAX_RUNNING);
    expect(upstream.map((u) => JSON.parse(u))).toEqual([expect.objectContaining({ type: 'response.cancel', response_id: `r${MAX_RUNNING}` }), expect.objectContaining({ type: 'response.cancel', response_id: `r${MAX_RUNNING + 1}` })]);
    rt.close();
    expect(recorder.open).toBe(0);
    const again = budget();
    again.rt.started('{"type":"response.created","response":{"id":"same"}}', undefined);
    again.rt.started('{"type":"response.created","response":{"id":"same"}}', undefined);
    expect(again.recorder.open).toBe(1);
    again.rt.done('{"type":"response.done","response":{"id":"same"}}');
    expect(again.recorder.open).toBe(0);
  });

  it(`pauses the client's reading once ${MAX_WAITING} messages wait behind a hold asked for asynchronously, and resumes it when they go`, async () => {
    let grant: ((a: Admission) => void) | undefined;
    const slow: Admitter = { admit: () => new Promise<Admission>((r) => (grant = r)) };
    const paused: boolean[] = [];
    const relayed: number[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [slow], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: () => undefined, toClient: () => undefined, targetOutputCap: () => 4096, pauseClient: (p) => void paused.push(p) });
    rt.fromClient(JSON.stringify({ type: 'response.create' }), undefined, () => void relayed.push(-1));
    for (let i = 0; i < MAX_WAITING + 10; i++) rt.fromClient(JSON.stringify({ type: 'conversation.item.retrieve', item_id: `i${i}` }), undefined, () => void relayed.push(i));
    // Before, a client could queue without bound while Redis was asked.
    expect(paused).toEqual([true]);
    grant?.(NOTHING);
    await vi.waitFor(() => expect(relayed).toHaveLength(MAX_WAITING + 11));
    expect(paused).toEqual([true, false]);
    rt.close();
  });
});

describe('RealtimeBudget grows a turn hold asked of Redis without letting it go', () => {
  /** A Budget of `room` tokens asked asynchronously (Redis): each ask is answered when the test says, in the order it says. */
  class Pool implements Admitter {
    used = 0;
    readonly asks: { tokens: number; answer: () => void }[] = [];
    constructor(private readonly room: number) {}
    admit(request: AdmissionRequest): Promise<Admission> {
      const tokens = request.promptTokens + request.maxOutputTokens;
      return new Promise<Admission>((resolve, reject) => {
        this.asks.push({
          tokens,
          answer: () => {
            if (this.used + tokens > this.room) return reject(new GatewayError(429, 'budget_exceeded', 'insufficient_quota', 'budget default/cap cannot hold it'));
            this.used += tokens;
            let settled = false;
            resolve({ headers: {}, charge: () => undefined, settle: () => void (settled ? undefined : ((settled = true), (this.used -= tokens))) });
          },
        });
      });
    }
    /** Answers the asks waiting, newest first (another pod's request reaching Redis before this one's). */
    answerNewestFirst(): void {
      for (const ask of this.asks.splice(0).reverse()) ask.answer();
    }
  }
  const vad = JSON.stringify({ type: 'session.created', session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad' } } } } });
  const append = JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' });
  const tokens = (n: number) => ({ inputTokens: n, outputTokens: 0, cachedInputTokens: 0 });
  const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

  it('the larger hold is asked beside the old one: another request taking the room meanwhile never gets the turn that went upstream cancelled', async () => {
    // 300 tokens: one turn hold (10 sent: 52 input and 100 output) and its growth (100 sent: 153 and 100) fit, two turns do not.
    const pool = new Pool(300);
    const upstream: string[] = [];
    const relayed: string[] = [];
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [pool], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: (t) => void upstream.push(t), toClient: () => undefined, targetOutputCap: () => 100 });
    rt.fromUpstream(vad);
    rt.fromClient(append, tokens(10), () => void relayed.push('first'));
    pool.answerNewestFirst();
    await vi.waitFor(() => expect(relayed).toEqual(['first']));
    expect(pool.used).toBe(152);
    // The turn grows, and another pod asks for as much as the first hold at the same time.
    rt.fromClient(append, tokens(100), () => void relayed.push('second'));
    const other = pool.admit({ promptTokens: 52, maxOutputTokens: 100 } as AdmissionRequest).catch(() => undefined);
    pool.answerNewestFirst();
    await other;
    await flush();
    // Before, the old hold was released first: the other request took its room, the larger hold and
    // the old one taken back were both refused, and the response of the turn already relayed was cancelled.
    expect(relayed).toEqual(['first', 'second']);
    pool.answerNewestFirst();
    await flush();
    expect(pool.used).toBe(253);
    rt.started('{"type":"response.created","response":{"id":"resp_1"}}', tokens(100));
    await flush();
    pool.answerNewestFirst();
    await flush();
    expect(upstream).toEqual([]);
    rt.done('{"type":"response.done","response":{"id":"resp_1"}}');
    expect(pool.used).toBe(0);
    rt.close();
  });
});

describe('RealtimeBudget keeps a turn hold asked of Redis to a few parts', () => {
  it('past 8 parts the whole hold is asked beside them, and the parts released once it is granted', async () => {
    let open = 0;
    let used = 0;
    const asked: number[] = [];
    const redis: Admitter = {
      admit: (request) => {
        const tokens = request.promptTokens + request.maxOutputTokens;
        asked.push(tokens);
        open++;
        used += tokens;
        let settled = false;
        return Promise.resolve({ headers: {}, charge: () => undefined, settle: () => void (settled ? undefined : ((settled = true), open--, (used -= tokens))) });
      },
    };
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [redis], caller: caller('voice'), route: testRoute([]), budgets: [], toUpstream: () => undefined, toClient: () => undefined, targetOutputCap: () => 100 });
    rt.fromUpstream(JSON.stringify({ type: 'session.created', session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad' } } } } }));
    const relayed: number[] = [];
    // Input that doubles with every event: each one grows the hold.
    for (let i = 1; i <= 10; i++) {
      rt.fromClient(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' }), { inputTokens: 1000 * 2 ** i, outputTokens: 0, cachedInputTokens: 0 }, () => void relayed.push(i));
      await vi.waitFor(() => expect(relayed).toContain(i));
    }
    // 1 hold and 7 growths are 8 parts; the 9th event asks the whole (512,000 sent, an eighth and 40 more, and 100 output) and lets the 8 go; the 10th grows it again.
    expect(asked).toHaveLength(10);
    expect(asked[8]).toBe(512_000 + 64_000 + 40 + 100);
    expect(open).toBe(2);
    expect(used).toBe(1_024_000 + 128_000 + 40 + 100);
    rt.close();
    expect(open).toBe(0);
  });
});

describe('RealtimeBudget holds apart at the prices it is given', () => {
  it("a transcription's hold is asked at its model's prices and audio seconds (whisper-1's perAudioSecond), else at the route's", () => {
    const asked: AdmissionRequest[] = [];
    const noting: Admitter = { admitNow: (r) => (asked.push(r), NOTHING), admit: (r) => Promise.resolve((asked.push(r), NOTHING)) };
    const route = testRoute([]);
    const rt = new RealtimeBudget({ connection: NOTHING, admitters: [noting], caller: caller('voice'), route, budgets: [], toUpstream: () => undefined, toClient: () => undefined, targetOutputCap: () => 4096 });
    const whisper = { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0, perAudioSecondUsd: 0.0001 };
    rt.holdApart(20, 48, 1, () => undefined, { model: 'whisper-1', pricing: whisper });
    rt.holdApart(20, 48, 1, () => undefined);
    expect(asked[0]?.route.id).toBe(route.id);
    expect(asked[0]?.route.targets).toEqual([expect.objectContaining({ model: 'whisper-1', pricing: whisper })]);
    expect(asked[0]?.units).toMatchObject({ audioSeconds: 1 });
    expect(asked[1]?.route).toBe(route);
    rt.close();
  });
});
