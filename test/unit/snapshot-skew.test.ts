import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { wireJson } from '../../dataplane/config/secret-value.js';
import { droppedField } from '../../dataplane/config/unknown-fields.js';
import { buildRuntimeSnapshot } from '../../dataplane/runtime/runtime-snapshot.js';
import type { Transport } from '../../dataplane/upstream/transport.js';

// A data plane older than its operator: a snapshot field it does not know is refused (the last good
// snapshot stays), never dropped. Dropped, a field that restricts (an access rule, a guardrail, a
// DataPolicy) would be served as if it were absent.

const noTransport: Transport = { send: () => Promise.reject(new Error('unused')) };

/** The snapshots of the examples and golden fixtures, as the operator sends them (credentials revealed). */
function wireSnapshots(): [string, Record<string, unknown>][] {
  const sources = [
    ...readdirSync('test/fixtures/compile').filter((f) => f.endsWith('.in.yaml')).map((f) => join('test/fixtures/compile', f)),
    ...['examples/quickstart', 'examples/data-policy', 'examples/guardrails'].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => join(d, f))),
  ];
  return sources.map((path) => {
    const loaded = loadManifests([{ path, content: readFileSync(path, 'utf8') }]);
    const { snapshot } = compile({ ...loaded.input, apiKeyHashKey: 'k'.repeat(32), localCaptureDestinations: true });
    return [path, JSON.parse(wireJson(snapshot)) as Record<string, unknown>];
  });
}

describe('a snapshot field this data plane does not know', () => {
  const snapshots = wireSnapshots();

  it('drops nothing of what the operator compiles today (each example and fixture loads as sent)', () => {
    expect(snapshots.length).toBeGreaterThan(3);
    for (const [path, wire] of snapshots) {
      const built = buildRuntimeSnapshot(wire, noTransport);
      expect(built.ok, `${path}: ${built.ok ? '' : built.error}`).toBe(true);
    }
  });

  it('is refused, naming where it is, at any depth', () => {
    const [, wire] = snapshots.find(([, w]) => Array.isArray(w.routes) && w.routes.length > 0) ?? [];
    if (wire === undefined) throw new Error('no snapshot with routes');
    const routes = wire.routes as Record<string, unknown>[];
    const withTopLevel = { ...wire, egressPolicy: { deny: ['10.0.0.0/8'] } };
    expect(buildRuntimeSnapshot(withTopLevel, noTransport)).toMatchObject({ ok: false, error: expect.stringContaining('snapshot field egressPolicy is unknown to this data plane') });
    const nested = { ...wire, routes: routes.map((r, i) => (i === 0 ? { ...r, access: { ...(r.access as object), mustBeInGroup: 'auditors' } } : r)) };
    const refused = buildRuntimeSnapshot(nested, noTransport);
    expect(refused).toMatchObject({ ok: false, error: expect.stringContaining('snapshot field routes.0.access.mustBeInGroup is unknown') });
  });

  it('droppedField walks objects and arrays side by side; a value parsing turned into a class is a leaf', () => {
    class Wrapped {}
    expect(droppedField({ a: [{ b: 1, c: 2 }] }, { a: [{ b: 1 }] })).toBe('a.0.c');
    expect(droppedField({ a: { b: 1 } }, { a: { b: 1, d: 'default' } })).toBeUndefined();
    expect(droppedField({ s: 'sk-1' }, { s: new Wrapped() })).toBeUndefined();
    expect(droppedField({ s: { x: 1 } }, { s: new Wrapped() })).toBeUndefined();
  });
});
