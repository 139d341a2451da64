import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDirectoryDestination } from '../../dataplane/policy/capture/destinations/local-directory.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { storedRecord } from '../support/capture-records.js';
import { openAiProvider, startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';

// Issue 16: `tollgate dev` enforces a DataPolicy's retention on its localDirectory destination, as
// the operator does on buckets: content older than retention.content goes, its metadata stays
// until retention.metadata, and what was just captured through the request path stays.

const HOUR = 3_600_000;

let up: OpenAiUpstream;
let gateway: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-dev-retention-'));
  up = await startOpenAiUpstream();
  gateway = await startTestGateway(
    {
      'all.yaml': `${openAiProvider('up', up.baseUrl)}---
apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: up }, model: up-model }]
---
apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: audit }
spec:
  subjects: { routes: [{ name: chat }] }
  capture: { mode: Full }
  retention: { content: 1h, metadata: 48h }
  destinations: [{ name: disk, localDirectory: { path: "${dir}" } }]
`,
    },
    { capture: { flushIntervalMs: 20 } },
  );
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

const files = (stream: string): string[] =>
  existsSync(join(dir, stream)) ? readdirSync(join(dir, stream), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.jsonl')).sort() : [];

describe("tollgate dev's retention of a localDirectory destination", () => {
  it('deletes expired content before its metadata and keeps what was just captured', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (files('content').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const fresh = files('content');
    expect(fresh).toHaveLength(1);
    await localDirectoryDestination(dir).write(lineGroups([storedRecord('default/audit', 'default', Date.now() - 5 * HOUR, 'old')]));
    expect(files('content')).toHaveLength(2);

    const [swept] = await gateway.retention.pass();
    expect(swept?.result.streams.content?.deletedObjects).toBe(1);
    expect(swept?.result.streams.metadata?.deletedObjects).toBe(0);
    expect(files('content')).toEqual(fresh);
    expect(files('metadata')).toHaveLength(2);
  });
});
