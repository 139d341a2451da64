import { describe, expect, it } from 'vitest';
import { MAX_SPEC_HISTORY } from '../api/common.js';
import { specWrittenAt, withSpecChange } from './spec-history.js';

describe('status.specHistory of Providers and ModelRoutes', () => {
  it('appends each new generation once, and keeps the last ones only', () => {
    const first = withSpecChange(undefined, 1, '2026-12-01T00:00:00Z');
    expect(first).toEqual([{ generation: 1, changedAt: '2026-12-01T00:00:00Z' }]);
    expect(withSpecChange(first, 1, '2026-12-02T00:00:00Z')).toBe(first);
    expect(withSpecChange(first, undefined, '2026-12-02T00:00:00Z')).toBe(first);
    let history = first;
    for (let g = 2; g <= MAX_SPEC_HISTORY + 5; g++) history = withSpecChange(history, g, `2026-12-02T00:00:${String(g).padStart(2, '0')}Z`);
    expect(history).toHaveLength(MAX_SPEC_HISTORY);
    expect(history?.[0]?.generation).toBe(6);
    expect(history?.at(-1)?.generation).toBe(MAX_SPEC_HISTORY + 5);
  });

  it('dates a change by the last write of spec fields, not by status or metadata-only writers', () => {
    const object = {
      metadata: {
        name: 'chat',
        managedFields: [
          { manager: 'kubectl', operation: 'Update', time: '2026-12-01T10:00:00Z', fieldsV1: { 'f:metadata': {}, 'f:spec': {} } },
          { manager: 'ci', operation: 'Apply', time: '2026-12-03T10:00:00Z', fieldsV1: { 'f:spec': { 'f:targets': {} } } },
          { manager: 'tollgate', operation: 'Update', subresource: 'status', time: '2026-12-04T10:00:00Z', fieldsV1: { 'f:status': {} } },
          { manager: 'labeller', operation: 'Update', time: '2026-12-05T10:00:00Z', fieldsV1: { 'f:metadata': { 'f:labels': {} } } },
        ],
      },
    };
    expect(specWrittenAt(object)).toBe('2026-12-03T10:00:00Z');
    expect(specWrittenAt({ metadata: { name: 'x' } })).toBeUndefined();
  });
});
