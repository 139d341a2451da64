import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { DataPolicyConfig } from '../../dataplane/config/data-policy-config.js';
import type { SerialisedRecord } from '../../dataplane/policy/capture/capture-record.js';
import { localDirectoryDestination } from '../../dataplane/policy/capture/destinations/local-directory.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { storedRecord } from '../../test/support/capture-records.js';
import { LocalRetention } from './local-retention.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-12-05T05:30:00Z');

const record = (requestId: string, ageMs: number): SerialisedRecord => storedRecord('default/dev', 'default', NOW - ageMs, requestId);

describe("tollgate dev's local directory retention", () => {
  it('expires content files before metadata files, by the policy in the snapshot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-retention-'));
    try {
      await localDirectoryDestination(dir).write(lineGroups([record('old', 3 * DAY), record('new', HOUR)]));
      const policy: DataPolicyConfig = {
        id: 'default/dev',
        subjects: { namespaces: ['default'], serviceAccounts: [], apiKeys: [], routes: [] },
        mode: 'Full',
        sampleRate: 1,
        parts: { request: true, response: true },
        maxRecordBytes: 262_144,
        allowOptOut: false,
        redaction: { detectors: [], customPatterns: [] },
        retention: { contentMs: DAY, metadataMs: 7 * DAY },
        // As a manifest gives it: relative to the directory tollgate dev runs in.
        destinations: [{ type: 'localDirectory', name: 'disk', path: `./${relative(process.cwd(), dir)}` }],
      };
      const retention = new LocalRetention({ policies: () => [policy], logger: pino({ level: 'silent' }), now: () => NOW });
      const [done] = await retention.pass();
      expect(done?.result.streams.content).toMatchObject({ deletedObjects: 1, oldestKeptMs: Date.parse('2026-12-05T04:00:00Z') });
      expect(done?.result.streams.metadata).toMatchObject({ deletedObjects: 0, oldestKeptMs: Date.parse('2026-12-02T05:00:00Z') });
      // The expired date's folder went with its file; metadata of both days stays.
      expect(readdirSync(join(dir, 'content', 'namespace=default'))).toEqual(['date=2026-12-05']);
      expect(readdirSync(join(dir, 'metadata', 'namespace=default'))).toEqual(['date=2026-12-02', 'date=2026-12-05']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
