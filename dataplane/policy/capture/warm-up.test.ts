import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS, compileDetectors } from '../detectors/index.js';
import { parseRecord } from './capture-record.js';
import type { SerialisePolicy } from './serialise-capture.js';
import { warmPolicy, warmUpContent, warmUpRecord } from './warm-up.js';

const config = (mode: SerialisePolicy['mode']): SerialisePolicy => ({
  id: 'team-a/p',
  mode,
  parts: { request: true, response: true },
  maxRecordBytes: 262_144,
  redaction: { detectors: [...BUILTIN_DETECTORS], customPatterns: [] },
});

describe('the capture worker warm-up', () => {
  it('runs the synthetic record through the policy content path: redacted under Redacted, none under Metadata', () => {
    const compiled = compileDetectors({ detectors: [...BUILTIN_DETECTORS], customPatterns: [] });
    if (!compiled.ok) throw new Error('detectors');
    const line = warmUpContent({ config: config('Redacted'), detectors: compiled.detectors });
    expect(line).toContain('[EMAIL]');
    expect(line).toContain('[PAYMENT_CARD]');
    expect(line).not.toContain('ann.lee@example.com');
    expect(warmUpContent({ config: config('Full'), detectors: undefined })).toContain('ann.lee@example.com');
    expect(warmUpContent({ config: config('Metadata'), detectors: undefined })).toBeUndefined();
    // Redacted without detectors records nothing, even in a warm-up.
    expect(warmUpContent({ config: config('Redacted'), detectors: undefined })).toBeUndefined();
    expect(() => warmPolicy({ config: config('Redacted'), detectors: compiled.detectors }, 3)).not.toThrow();
  });

  it('the synthetic record parses as a record, with its content', () => {
    const record = parseRecord(warmUpRecord());
    expect(record).toMatchObject({ requestId: 'warm-up', namespace: 'warm-up', policy: { id: 'warm-up' } });
    expect(record.content?.request).toBeDefined();
  });
});
