import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../emulators/emulator-server.js';
import { startAnthropicEmulator } from '../emulators/anthropic.js';
import { providerManifest, routeManifest, secretManifest } from '../providers/provider-manifests.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';

// Anthropic answers an overload with a stream that opens (message_start, ping) and then sends
// `event: error` overloaded_error before any content. The client has received nothing it could use:
// the gateway fails the request over (before, the opening role chunk made it a started stream, and
// the client got the error in-band with nowhere else tried).

let anthropic: Emulator;
let gateway: TestGateway;

beforeAll(async () => {
  anthropic = await startAnthropicEmulator('sk-ant-test');
  const provider = (name: string): string => providerManifest(name, 'anthropic', anthropic.url, '{ secretRef: { name: ant-key, key: apiKey } }');
  gateway = await startTestGateway({
    'providers.yaml': provider('busy') + provider('spare') + secretManifest('ant-key', { apiKey: 'sk-ant-test' }),
    'routes.yaml': routeManifest('with-spare', [['busy', 'claude-sonnet-4-5'], ['spare', 'claude-sonnet-4-5']]) + routeManifest('alone', [['busy', 'claude-sonnet-4-5']]),
  });
});

afterAll(async () => {
  await gateway?.close();
  await anthropic?.close();
});

async function stream(model: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(8_000),
  });
  return { status: res.status, text: await res.text() };
}

describe('a stream that fails before any content', () => {
  it('is failed over to the next target, which serves the whole stream', async () => {
    anthropic.script({ kind: 'stream-overloaded' }, { kind: 'text', text: 'Hello from the spare' });
    const before = anthropic.requests.length;
    const res = await stream('with-spare');
    expect(res.status).toBe(200);
    expect(anthropic.requests.length - before).toBe(2);
    expect(res.text).not.toContain('overloaded');
    const content = res.text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string; role?: string } }[] }).choices[0]?.delta ?? {});
    expect(content.map((d) => d.content ?? '').join('')).toBe('Hello from the spare');
    // One opening role chunk, not one from each attempt.
    expect(content.filter((d) => d.role === 'assistant')).toHaveLength(1);
  });

  it("charges the failed attempt's prompt: its message_start said the upstream had taken it (before, it was charged nothing)", async () => {
    const served = async (model: string, scripts: Parameters<Emulator['script']>): Promise<{ status: number; record: (typeof gateway.usage.records)[number] | undefined }> => {
      anthropic.script(...scripts);
      const before = gateway.usage.records.length;
      const res = await stream(model);
      for (let i = 0; i < 50 && gateway.usage.records.length === before; i++) await new Promise((r) => setTimeout(r, 20));
      return { status: res.status, record: gateway.usage.records[before] };
    };
    const alone = await served('with-spare', [{ kind: 'text', text: 'Hello from the spare' }]);
    expect(alone.record).toMatchObject({ estimated: false });
    const failedOver = await served('with-spare', [{ kind: 'stream-overloaded' }, { kind: 'text', text: 'Hello from the spare' }]);
    expect(failedOver.status).toBe(200);
    // The spare's reported usage, and the failed attempt's prompt (its estimate) besides.
    expect(failedOver.record).toMatchObject({ estimated: true, estimateReason: 'lost_attempt' });
    expect(failedOver.record?.inputTokens).toBeGreaterThan(alone.record?.inputTokens ?? 0);
    expect(failedOver.record?.outputTokens).toBe(alone.record?.outputTokens);
    // The last failure too: the 503 is charged the prompt it cost.
    const last = await served('alone', [{ kind: 'stream-overloaded' }]);
    expect(last.status).toBe(503);
    expect(last.record).toMatchObject({ estimated: true, estimateReason: 'lost_attempt', outputTokens: 0 });
    expect(last.record?.inputTokens).toBeGreaterThan(0);
  });

  it('as the last failure: 503 upstream_overloaded, not a 200 with an in-band error', async () => {
    anthropic.script({ kind: 'stream-overloaded' });
    const res = await stream('alone');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'upstream_overloaded' } });
  });
});
