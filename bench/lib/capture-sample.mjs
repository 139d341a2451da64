// capture-ab's captured request as the capture stage hands it over (a served chat request with its
// answer; the prompt carries an e-mail address, a card number and a phone number), for the capture
// benches that run a build's code in-process. Plain JavaScript: bench/lib/capture-warm-child.mjs runs
// without tsx. Types in capture-sample.d.mts.

export const CAPTURE_SAMPLE_PROMPT = 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.';

// One caller object per identity, as the capture stage hands over (the metadata line caches its JSON by object).
const CALLER = Object.freeze({ kind: 'anonymous' });

/** Record number `i`: its own request id and response id, the rest the same. */
export function captureSampleInput(i) {
  return {
    requestId: `req-${i}-0123456789abcdef`,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    startedAtMs: Date.now(),
    durationMs: 2,
    caller: CALLER,
    routeId: 'default/emu',
    routeNamespace: 'default',
    model: 'emu',
    stream: false,
    status: 200,
    decision: 'served',
    provider: 'default/emu',
    upstreamModel: 'emu',
    tokens: { input: 31, output: 12, cached: 0 },
    costUsd: 0.000093,
    requestBody: { model: 'emu', messages: [{ role: 'user', content: CAPTURE_SAMPLE_PROMPT }], max_tokens: 32 },
    response: {
      id: `chatcmpl-${i}`,
      object: 'chat.completion',
      created: 1_733_390_000,
      model: 'emu',
      choices: [{ index: 0, message: { role: 'assistant', content: 'The customer asks for a one-sentence summary of their ticket.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 31, completion_tokens: 12, total_tokens: 43 },
    },
  };
}

/** capture-ab's DataPolicy (every built-in detector given, route default/emu, everything sampled) in `mode`, to `destinations`. */
export function captureSamplePolicy(mode, detectors, destinations) {
  return {
    id: 'default/audit',
    subjects: { namespaces: [], serviceAccounts: [], apiKeys: [], routes: ['default/emu'] },
    mode,
    sampleRate: 1,
    parts: { request: true, response: true },
    maxRecordBytes: 262_144,
    allowOptOut: false,
    redaction: { detectors: [...detectors], customPatterns: [] },
    retention: {},
    destinations,
  };
}
