import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileHeaderPattern, headerPatternError, MAX_MATCHED_HEADER_LENGTH, MAX_PATTERN_PROGRAM_SIZE, MAX_ROUTE_PROGRAM_SIZE } from './header-pattern.js';
import { routeLoadProblems } from './load-checks.js';
import { buildRuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import { type RouteConfig, type Snapshot, SNAPSHOT_SCHEMA_VERSION } from './snapshot.js';
import type { Transport } from '../upstream/transport.js';
import { testRoute } from '../governance/rate-limit/test-support.js';

const noTransport: Transport = { send: () => Promise.reject(new Error('unused')) };
const EVIL = '(\\w+\\s?)+';
/** 45 word characters and a character that makes the match fail: exponential for a backtracking engine. */
const ADVERSARIAL = `${'a'.repeat(45)}!`;

function routeWith(headers: RouteConfig['matches'][number]['headers'], ruleHeaders: RouteConfig['matches'][number]['headers']): RouteConfig {
  return testRoute([], {
    matches: [{ headers }],
    targets: [{ providerId: 'team-a/p', model: 'm', priority: 0, weight: 1, pricing: { inputPerMTok: 0, outputPerMTok: 0, cachedInputPerMTok: 0 } }],
    rules: [
      { name: 'evil', when: { headers: ruleHeaders }, strategy: 'failover', targets: [0] },
      { name: 'rest', strategy: 'failover', targets: [0] },
    ],
  });
}

function snapshotWith(route: RouteConfig): Snapshot {
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    version: 'v',
    providers: [{ id: 'team-a/p', type: 'mock', endpoints: [], headers: {}, connectTimeoutMs: 1, mock: { latencyMs: 0, chunkIntervalMs: 0, completionTokens: 1, failureRate: 0 } }],
    routes: [route],
    apiKeys: [],
    budgets: [],
    namespaces: {},
  };
}

describe('header patterns: RE2 semantics, linear-time matching', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('never hands a client-facing pattern to the backtracking RegExp engine, and matches (\\w+\\s?)+ against an adversarial header', () => {
    // By construction: every `new RegExp(...)` made while the snapshot loads and the header is matched is
    // recorded. The backtracking engine took 2.7 s for this 46-byte header; RE2 is linear in its length.
    const made: string[] = [];
    const Native = RegExp;
    vi.stubGlobal(
      'RegExp',
      new Proxy(Native, {
        construct(target, args: [string | RegExp, string?]) {
          made.push(String(args[0]));
          return new target(...args);
        },
      }),
    );
    const built = buildRuntimeSnapshot(snapshotWith(routeWith([{ name: 'x-team', value: EVIL, type: 'RegularExpression' }], [{ name: 'x-team', value: EVIL, type: 'RegularExpression' }])), noTransport);
    if (!built.ok) throw new Error(built.error);
    // Checked before matching: on a backtracking engine the match below would run for hours.
    expect(made.filter((source) => source.includes('\\w+\\s?'))).toEqual([]);
    const route = built.runtime.routesByModel.get('chat')?.[0];
    if (route === undefined) throw new Error('route missing');
    const header = (value: string) => (name: string) => (name === 'x-team' ? value : undefined);
    expect(route.matches(header(ADVERSARIAL))).toBe(false);
    expect(route.matches(header('ab cd ef'))).toBe(true);
    const input = (value: string) => ({ header: header(value), caller: { kind: 'anonymous' as const, id: 'anon' }, namespaceLabels: {}, features: { promptTokens: 0, maxTokens: undefined, tools: false, images: false, jsonSchema: false, stream: false } });
    expect(route.rules[0]?.matches(input(ADVERSARIAL))).toBe(false);
    expect(route.rules[0]?.matches(input('ab cd'))).toBe(true);
  });

  it('matches the whole value, as the old anchored RegExp did', () => {
    const compiled = compileHeaderPattern('prod|staging');
    if (!compiled.ok) throw new Error(compiled.error);
    expect(['prod', 'staging', 'production', 'xprod'].map((v) => compiled.pattern.test(v))).toEqual([true, true, false, false]);
  });

  it('refuses syntax RE2 does not have (backreferences, lookaround) and malformed patterns', () => {
    for (const bad of ['(', '(a)\\1', '(?=a)b', 'a{2,1}']) expect(headerPatternError(bad), bad).toEqual(expect.any(String));
    expect(headerPatternError('(?i)eu-[a-z]+')).toBeUndefined();
  });

  it('a header longer than the cap never matches, so one header bounds the work', () => {
    const compiled = compileHeaderPattern('a*');
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.pattern.test('a'.repeat(MAX_MATCHED_HEADER_LENGTH))).toBe(true);
    expect(compiled.pattern.test('a'.repeat(MAX_MATCHED_HEADER_LENGTH + 1))).toBe(false);
  });

  it('bounds the work per header by construction: program size per pattern and per route, value length per match', () => {
    // A 4 KB `.*a.*a…` against 8 KB of `a` took 3 s in the NFA: such patterns are refused, not run.
    expect(headerPatternError('.*a'.repeat(1350))).toMatch(/too complex: RE2 program size \d+ exceeds 256/);
    expect(headerPatternError('a{1000}')).toMatch(/too complex/);
    const accepted = compileHeaderPattern('[a-z0-9-]{1,63}');
    if (!accepted.ok) throw new Error(accepted.error);
    expect(accepted.pattern.programSize).toBeLessThanOrEqual(MAX_PATTERN_PROGRAM_SIZE);
    // Each one is fine alone; nine of them exceed the route's total.
    const many = Array.from({ length: 9 }, () => ({ name: 'x-team', value: '[a-z0-9-]{1,63}', type: 'RegularExpression' as const }));
    const problems = routeLoadProblems(routeWith(many.slice(0, 4), many.slice(4)), new Set(['team-a/p']));
    expect(problems[0]).toEqual({ path: 'rules[0].when.headers[4].value', message: `the route's regular expressions together exceed RE2 program size ${MAX_ROUTE_PROGRAM_SIZE}` });
    expect(routeLoadProblems(routeWith(many.slice(0, 4), many.slice(0, 4)), new Set(['team-a/p']))).toEqual([]);
  });
});

