import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { type CaptureRecord, parseRecord, type SerialisedRecord, serialiseRecord } from './capture-record.js';
import { LineBatch, lineGroups, parseGroups } from './line-batch.js';

/** The grouping by key alone, as a Map per record: the reference LineBatch's same-as-before path must agree with. */
function byKey(batch: readonly SerialisedRecord[]): { policyId: string; namespace: string; time: string; records: number; metadata: string; content: string }[] {
  const groups = new Map<string, { policyId: string; namespace: string; time: string; records: number; metadata: string; content: string }>();
  for (const r of batch) {
    const id = `${r.policyId}\n${r.namespace}\n${r.time.slice(0, 13)}`;
    let group = groups.get(id);
    if (group === undefined) groups.set(id, (group = { policyId: r.policyId, namespace: r.namespace, time: r.time, records: 0, metadata: '', content: '' }));
    group.records++;
    group.metadata += r.metadata.toString();
    if (r.content !== undefined) group.content += r.content.toString();
  }
  return [...groups.values()];
}

const asText = (groups: ReturnType<typeof lineGroups>) => groups.map((g) => ({ ...g, metadata: g.metadata.toString(), content: g.content.toString() }));

describe('LineBatch', () => {
  it('groups lines by policy, namespace and hour in arrival order, as records or as the worker hands them, past its buffers’ first size', () => {
    const next = seededRandom(5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const times = ['2026-12-05T03:59:59.999Z', '2026-12-05T03:00:00.000Z', '2026-12-05T04:00:00.000Z', '2026-12-06T03:10:00.000Z', '2026-12-05T03'];
    // ASCII, two- and three-byte UTF-8, a surrogate pair (four bytes), and long lines that outgrow 4 KiB buffers.
    const texts = ['abc', 'zoë', '東京', '😀 ok', 'x'.repeat(5000)];
    for (let round = 0; round < 200; round++) {
      const batch: SerialisedRecord[] = [];
      const parts = new LineBatch({ metadata: 16, content: 16 });
      let previous: SerialisedRecord | undefined;
      for (let i = Math.floor(next() * 40); i > 0; i--) {
        // Runs: most records repeat the partition of the one before, as a batch does.
        const same = previous !== undefined && next() < 0.7;
        const metadata = `m${round}.${i} ${pick(texts)}\n`;
        const head = `h${round}.${i}:`;
        const rest = next() < 0.8 ? `${pick(texts)}\n` : undefined;
        const r: SerialisedRecord = {
          policyId: same ? previous!.policyId : pick(['team-a/p', 'team-b/p']),
          namespace: same ? previous!.namespace : pick(['team-a', 'team-b', 'none']),
          time: same && next() < 0.8 ? previous!.time : pick(times),
          metadata: Buffer.from(metadata),
          ...(rest === undefined ? {} : { content: Buffer.from(head + rest) }),
        };
        batch.push(r);
        previous = r;
        // The worker's form: the lines in one buffer after other bytes, the rest as text.
        const from = Buffer.from(`junk${metadata}${rest === undefined ? '' : head}`);
        const written = parts.addParts(r.policyId, r.namespace, r.time, from, 4, 4 + Buffer.byteLength(metadata), from.length, rest);
        expect(written).toBe(r.metadata.length + (r.content?.length ?? 0));
      }
      expect(asText(lineGroups(batch)), `round ${round}`).toEqual(byKey(batch));
      expect(asText(parts.lineGroups()), `round ${round}, parts`).toEqual(byKey(batch));
      expect(parts.records).toBe(batch.length);
      expect(parts.bytes).toBe(batch.reduce((n, r) => n + r.metadata.length + (r.content?.length ?? 0), 0));
    }
  });

  it('writes a content line of megabytes (counted before it is written) as it writes a short one', () => {
    const batch = new LineBatch();
    const long = `${'é'.repeat(70_000)}😀${'x'.repeat(1_000_000)}\n`;
    const from = Buffer.from('{"m":1}\n{"h":');
    expect(batch.addParts('p', 'ns', '2026-12-05T03:00:00.000Z', from, 0, 8, from.length, long)).toBe(from.length + Buffer.byteLength(long));
    expect(batch.addParts('p', 'ns', '2026-12-05T03:00:00.000Z', from, 0, 8, from.length, 'short\n')).toBe(from.length + 6);
    const [group] = batch.lineGroups();
    expect(group?.metadata.toString()).toBe('{"m":1}\n{"m":1}\n');
    expect(group?.content.toString()).toBe(`{"h":${long}{"h":short\n`);
  });

  it('parses its groups back into the records, metadata-only records among those with content', () => {
    const record = (requestId: string, mode: CaptureRecord['policy']['mode'], namespace = 'team-a'): CaptureRecord => ({
      schema: 'tollgate.capture.v1',
      requestId,
      time: '2026-12-05T03:04:05.000Z',
      durationMs: 1,
      namespace,
      caller: { kind: 'anonymous' },
      model: 'm',
      stream: false,
      status: 200,
      decision: 'served',
      policy: { id: 'team-a/p', mode },
      ...(mode === 'Metadata' ? {} : { content: { request: { messages: [{ role: 'user', content: `hi ${requestId}` }] } } }),
    });
    const records = [record('a', 'Redacted'), record('b', 'Metadata'), record('c', 'Redacted', 'team-b'), record('d', 'Full'), record('e', 'Metadata'), record('a', 'Redacted')];
    const serialised = records.map(serialiseRecord);
    // In group order: team-a's four, then team-b's.
    expect(parseGroups(lineGroups(serialised))).toEqual([records[0], records[1], records[3], records[4], records[5], records[2]]);
    expect(parseGroups(lineGroups(serialised))).toEqual([0, 1, 3, 4, 5, 2].map((i) => parseRecord(serialised[i]!)));
  });
});
