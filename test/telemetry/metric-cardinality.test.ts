import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LABEL_VALUE_CHARS, MAX_TARGET_LABEL_SETS, OTHER_TARGET } from '../../dataplane/telemetry/target-labels.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { parsePrometheusText, samples, value } from './prom-text.js';
import { scrapeMetrics } from '../support/admin-metrics.js';

// One tenant's ModelRoute with 16 rules of 32 targets each, every upstream model name 256
// characters: what a route may configure must not make thousands of series (each rendered by every
// scrape, on the event loop that serves every tenant's requests).

const RULES = 16;
const TARGETS_PER_RULE = 32;
const upstreamModel = (rule: number, target: number): string => `r${rule}-t${target}-`.padEnd(256, 'x');

function route(): string {
  const rules = Array.from({ length: RULES }, (_, r) => {
    const targets = Array.from({ length: TARGETS_PER_RULE }, (_, t) => `        - { providerRef: { name: hostile }, model: "${upstreamModel(r, t)}", priority: ${t} }`).join('\n');
    // The last rule is the catch-all a route's rules end with.
    const when = r === RULES - 1 ? '' : `      when: { headers: [{ name: x-r, value: "${r}" }] }\n`;
    return `    - name: rule-${r}\n${when}      targets:\n${targets}`;
  });
  return `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: one }
spec:
  model: one
  retry: { attempts: 1 }
  rules:
${rules.join('\n')}
`;
}

let upstream: OpenAiUpstream;
let gateway: TestGateway;

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  upstream.script({ kind: 'error', status: 500 });
  gateway = await startTestGateway({ 'provider.yaml': openAiProvider('hostile', upstream.baseUrl), 'route.yaml': route() }, { admin: true });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe('series per route', () => {
  it(`stay bounded: past ${MAX_TARGET_LABEL_SETS} targets a route's target series fold into "_other", label values are at most ${MAX_LABEL_VALUE_CHARS} characters`, async () => {
    // One failed attempt per target: every rule's request tries its 32 targets.
    for (let r = 0; r < RULES; r++) {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-r': String(r) },
        body: JSON.stringify({ model: 'one', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = await res.text();
      expect(res.headers.get('x-tollgate-attempts'), body).toBe(String(TARGETS_PER_RULE));
    }
    const text = await scrapeMetrics(gateway);
    const m = parsePrometheusText(text);
    const route = 'default/one';
    // Before: 512 series of 16 buckets each, one per target.
    const durations = samples(m, 'tollgate_upstream_duration_seconds_count', { route });
    expect(durations.length).toBeLessThanOrEqual(MAX_TARGET_LABEL_SETS + 1);
    expect(durations.filter((s) => s.labels.upstream_model !== OTHER_TARGET)).toHaveLength(MAX_TARGET_LABEL_SETS);
    const folded = RULES * TARGETS_PER_RULE - MAX_TARGET_LABEL_SETS;
    // Nothing is lost: the folded targets' attempts are counted in the `_other` series.
    expect(value(m, 'tollgate_upstream_duration_seconds_count', { route, provider: OTHER_TARGET, upstream_model: OTHER_TARGET })).toBe(folded);
    const attempts = samples(m, 'tollgate_upstream_attempts_total', { route });
    expect(attempts.length).toBeLessThanOrEqual(MAX_TARGET_LABEL_SETS + 1);
    expect(attempts.reduce((n, s) => n + s.value, 0)).toBe(RULES * TARGETS_PER_RULE);
    expect(value(m, 'tollgate_metric_targets_folded', { route })).toBe(folded);
    // A cut name keeps its start and is told apart by a hash of the whole.
    const models = durations.map((s) => s.labels.upstream_model ?? '');
    expect(Math.max(...models.map((v) => v.length))).toBeLessThanOrEqual(MAX_LABEL_VALUE_CHARS);
    expect(new Set(models).size).toBe(models.length);
    expect(models).toContainEqual(expect.stringMatching(/^r0-t0-x+~[0-9a-f]{8}$/));
    // The whole scrape with it: before, 4 MB.
    expect(text.length).toBeLessThan(400_000);
  });
});
