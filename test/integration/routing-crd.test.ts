import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyOrRefusal, startTestCluster, type TestCluster } from './harness.js';

let k: TestCluster;

beforeAll(async () => {
  k = await startTestCluster();
}, 120_000);

afterAll(async () => {
  await k?.stop();
});

const route = (name: string, spec: string) => `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
${spec}`;

const rules = (body: string) => `  rules:
${body}`;
const catchAll = `    - name: rest
      targets: [{ providerRef: { name: p }, model: m }]
`;
const classify = `    - name: classify
      when: { headers: [{ name: x-task-type, value: classification }], promptTokens: { max: 2000 }, tools: false }
      targets: [{ providerRef: { name: p }, model: mini }]
`;

const apply = (manifest: string): string => applyOrRefusal(k, manifest);

describe('ModelRoute rules: CEL validation in the API server', () => {
  it('accepts rules with a catch-all last, and a route with targets only', () => {
    expect(apply(route('ok', rules(classify + catchAll)))).toBe('');
    expect(apply(route('plain', '  targets: [{ providerRef: { name: p }, model: m }]\n'))).toBe('');
    expect(k.kubectl(['get', 'modelroute', 'ok', '-o', 'jsonpath={.spec.rules[0].when.headers[0].type}'])).toBe('Exact');
  });

  it.each([
    ['no-targets', '  strategy: failover\n', 'set exactly one of targets and rules'],
    ['catch-all-first', rules(catchAll + classify), 'the last rule must be a catch-all (no when)'],
    ['two-catch-alls', rules(catchAll + catchAll.replace('rest', 'more')), 'only the last rule may be a catch-all (no when)'],
    ['same-names', rules(classify.replace('classify', 'rest') + catchAll), 'rule names must be unique'],
    ['empty-when', rules(classify.replace(/when: \{.*\}/, 'when: {}') + catchAll), 'when needs at least one condition'],
    ['bad-range', rules(classify.replace('{ max: 2000 }', '{ min: 10, max: 5 }') + catchAll), 'min must not exceed max'],
    ['rule-weight', rules(catchAll.replace('model: m }', 'model: m, weight: 3 }')), 'target weights are only allowed in rules whose strategy is weighted'],
  ])('refuses %s', (name, spec, message) => {
    expect(apply(route(name, spec))).toContain(message);
  });

  it('refuses a header regular expression RE2 cannot compile, and accepts a valid one', () => {
    const matches = (value: string) => `  matches: [{ headers: [{ name: x-team, value: '${value}', type: RegularExpression }] }]
  targets: [{ providerRef: { name: p }, model: m }]
`;
    expect(apply(route('bad-regex', matches('(')))).toContain('value must be a valid RE2 regular expression');
    expect(apply(route('lookahead', matches('(?=a)b')))).toContain('value must be a valid RE2 regular expression');
    expect(apply(route('good-regex', matches('(\\w+\\s?)+')))).toBe('');
    const ruleRegex = classify.replace('value: classification }', "value: 'a{2,1}', type: RegularExpression }");
    expect(apply(route('bad-rule-regex', rules(ruleRegex + catchAll)))).toContain('value must be a valid RE2 regular expression');
  });

  it('refuses a Provider whose base ejection time exceeds the maximum', () => {
    const provider = `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: p, labels: { approved: "true" } }
spec:
  type: openai
  outlierDetection: { baseEjectionTime: 10m, maxEjectionTime: 1m }
`;
    expect(apply(provider)).toContain('baseEjectionTime must not exceed maxEjectionTime');
    expect(apply(provider.replace('outlierDetection: { baseEjectionTime: 10m, maxEjectionTime: 1m }', 'timeouts: { connect: 0s }'))).toContain('must be longer than 0s');
    expect(apply(provider.replace('10m', '10s'))).toBe('');
  });
});
