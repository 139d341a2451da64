// The snapshot channel's line form (snapshot-lines.ts): what the operator writes parses back to the
// same envelope, its JSON form is what wireJson wrote before (pods from before the line form read
// the same bytes), and a pod parses it a line (a step) at a time.
import { describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { bigInput } from '../../test/support/snapshot-scale.js';
import { wireJson } from './secret-value.js';
import { runToEnd } from './sliced.js';
import { namesLines, parseLinesSteps, SNAPSHOT_LINES_TYPE, wireBodiesSteps } from './snapshot-lines.js';

function steps<T>(gen: Generator<void, T, void>): { value: T; steps: number } {
  let n = 0;
  for (;;) {
    const s = gen.next();
    if (s.done === true) return { value: s.value, steps: n };
    n++;
  }
}

describe('snapshot line form', () => {
  const { snapshot } = compile(bigInput(300, 50));
  const envelope = { generation: 1_700_000_000_000, term: 3, snapshot };
  const items = Object.values(snapshot).reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 0), 0);

  it('writes the JSON form byte for byte as wireJson did, credentials in clear', () => {
    const { json } = runToEnd(wireBodiesSteps(envelope));
    expect(json).toBe(wireJson(envelope));
    expect(runToEnd(wireBodiesSteps({ generation: 2, snapshot }))).toMatchObject({ json: wireJson({ generation: 2, snapshot }) });
  });

  it('parses back to the envelope the JSON form carries, a line per list item, a step per line', () => {
    const { json, lines } = runToEnd(wireBodiesSteps(envelope));
    expect(lines.split('\n')).toHaveLength(1 + items);
    const parsed = steps(parseLinesSteps(lines));
    expect(parsed.value).toEqual({ ok: true, value: JSON.parse(json) });
    expect(parsed.steps).toBe(items);
    expect(items).toBeGreaterThan(300);
    // A trailing newline is the end of the body.
    expect(runToEnd(parseLinesSteps(`${lines}\n`))).toEqual({ ok: true, value: JSON.parse(json) });
  });

  it('keeps empty lists and members that are not lists in the first line', () => {
    const small = { generation: 5, snapshot: { schemaVersion: 1, routes: [], providers: [{ id: 'a' }], namespaces: { a: { x: '1' } }, version: 'v' } };
    const { json, lines } = runToEnd(wireBodiesSteps(small));
    expect(json).toBe(JSON.stringify(small));
    expect(lines).toBe('{"generation":5,"snapshot":{"schemaVersion":1,"routes":[],"providers":[],"namespaces":{"a":{"x":"1"}},"version":"v"}}\n["providers",{"id":"a"}]');
    expect(runToEnd(parseLinesSteps(lines))).toEqual({ ok: true, value: small });
  });

  it('refuses, as a value, a line that is not JSON, not a pair, or names a member that is not a list of line 1', () => {
    const head = '{"generation":1,"snapshot":{"routes":[],"version":"v"}}';
    expect(runToEnd(parseLinesSteps('{"generation":1'))).toMatchObject({ ok: false, error: expect.stringMatching(/^line 1: /) });
    expect(runToEnd(parseLinesSteps('[1,2]'))).toMatchObject({ ok: false, error: 'line 1: not an envelope with a snapshot object' });
    expect(runToEnd(parseLinesSteps(`${head}\n["routes",{`))).toMatchObject({ ok: false, error: expect.stringMatching(/^line 2: /) });
    expect(runToEnd(parseLinesSteps(`${head}\n{"routes":1}`))).toEqual({ ok: false, error: 'line 2: not a [member, item] pair' });
    expect(runToEnd(parseLinesSteps(`${head}\n["version","x"]`))).toEqual({ ok: false, error: 'line 2: snapshot member "version" is not a list of line 1' });
    expect(runToEnd(parseLinesSteps(`${head}\n["toString",1]`))).toEqual({ ok: false, error: 'line 2: snapshot member "toString" is not a list of line 1' });
    expect(runToEnd(parseLinesSteps(`${head}\n\n["routes",1]`))).toMatchObject({ ok: false, error: expect.stringMatching(/^line 2: /) });
  });

  it('names the line form in a content-type or accept header, with parameters and among others', () => {
    expect(namesLines(SNAPSHOT_LINES_TYPE)).toBe(true);
    expect(namesLines(`application/json;q=0.5, ${SNAPSHOT_LINES_TYPE};charset=utf-8`)).toBe(true);
    expect(namesLines('application/json')).toBe(false);
    expect(namesLines(undefined)).toBe(false);
    expect(namesLines('*/*')).toBe(false);
  });
});
