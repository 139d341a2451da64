import { describe, expect, it } from 'vitest';
import { objectName, parseKey, partitionExpired, partitionPrefix, writerTag } from './capture-layout.js';

describe('capture layout', () => {
  it('writes and reads back a partitioned key with its writer', () => {
    const key = `${partitionPrefix('tollgate', 'content', 'team-a', '2026-12-05T03:04:05.000Z')}${objectName('team-a/audit.v2', '1-ab-0', '.jsonl.gz')}`;
    expect(key).toBe('tollgate/content/namespace=team-a/date=2026-12-05/hour=03/team-a.audit.v2_1-ab-0.jsonl.gz');
    expect(parseKey('tollgate', key)).toEqual({ stream: 'content', namespace: 'team-a', date: '2026-12-05', hourStartMs: Date.parse('2026-12-05T03:00:00Z'), writer: 'team-a.audit.v2' });
    expect(parseKey('', `metadata/namespace=x/date=2026-01-31/hour=23/${objectName('x/p', undefined, '.jsonl')}`)?.writer).toBe(writerTag('x/p'));
  });

  it('never reads a key outside the layout (such objects are never swept)', () => {
    expect(parseKey('tollgate', 'other/content/namespace=a/date=2026-12-05/hour=03/a.p_1.jsonl.gz')).toBeUndefined();
    expect(parseKey('tollgate', 'tollgate/content/namespace=a/content/namespace=b/date=2026-12-05/hour=03/a.p_1.jsonl.gz')).toBeUndefined();
    expect(parseKey('tollgate', 'tollgate/content/namespace=a/date=2026-13-45/hour=03/a.p_1.jsonl.gz')).toBeUndefined();
    expect(parseKey('', 'content/namespace=a/date=2026-12-05/hour=03/notes.txt')?.writer).toBeUndefined();
  });

  it('expires a partition only once its last possible record is older than the retention', () => {
    const hour = Date.parse('2026-12-05T03:00:00Z');
    const day = 86_400_000;
    expect(partitionExpired(hour, day, hour + day + 3_600_000 - 1)).toBe(false);
    expect(partitionExpired(hour, day, hour + day + 3_600_000)).toBe(true);
  });
});
