import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wireJson } from '../../dataplane/config/secret-value.js';
import { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { CALLER_AUTHORIZATION } from '../../dataplane/admin/debug-route.js';
import { compile } from '../../operator/compile/compile.js';
import { loadManifests } from '../../operator/sources/manifest-loader.js';
import { startTestGateway, type TestGateway } from '../support/dev-gateway.js';
import { type OpenAiUpstream, startOpenAiUpstream } from '../support/openai-upstream.js';
import { providerManifest, routeManifest, secretManifest } from '../providers/provider-manifests.js';

// Every kind of credential a snapshot holds, walked through every output: `tollgate compile`,
// /debug/route, /metrics, the logs, the traces, client errors, object status, and the generic
// renderings (JSON, util.inspect, String). Only the wire to a data plane may carry them.

const OPENAI_KEY = 'sk-live-OPENAIkey0123456789abcdefABCDEF';
const AWS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: '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', sessionToken: 'FwoGZXIvYXdzEXAMPLEsessionTOKEN0123456789' };
const PRIVATE_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const SA_KEY = JSON.stringify({ type: 'service_account', client_email: 'gw@proj.iam.gserviceaccount.com', private_key: PRIVATE_KEY, token_uri: 'http://127.0.0.1:9/token' });
const CLIENT_KEY = 'tg-client-key-7f3a9c2e5b1d';
/** A line of the PEM body: if any part of the private key leaks, this does. */
const PEM_LINE = PRIVATE_KEY.split('\n')[5] ?? '';

const SECRETS = [OPENAI_KEY, AWS.secretAccessKey, AWS.sessionToken, PEM_LINE, CLIENT_KEY, createHash('sha256').update(CLIENT_KEY).digest('hex')];

function manifests(upstreamUrl: string): Record<string, string> {
  return {
    'providers.yaml':
      providerManifest('openai', 'openai-compatible', upstreamUrl, '{ secretRef: { name: openai, key: apiKey } }', '', 'gpt-4o') +
      secretManifest('openai', { apiKey: OPENAI_KEY }) +
      providerManifest('bedrock', 'bedrock', 'http://127.0.0.1:9', '{ aws: { secretName: aws } }', '  bedrock: { region: eu-west-1 }\n', 'claude') +
      secretManifest('aws', { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken }) +
      providerManifest('vertex', 'vertex', 'http://127.0.0.1:9', '{ serviceAccountKeyRef: { name: gcp, key: key.json } }', '  vertex: { project: p, location: europe-west4 }\n', 'gemini') +
      secretManifest('gcp', { 'key.json': SA_KEY }),
    'client-key.yaml': `apiVersion: v1
kind: Secret
metadata: { name: ci, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: ${CLIENT_KEY} }
`,
    'routes.yaml': routeManifest('chat', [['openai', 'gpt-4o']]) + routeManifest('aws', [['bedrock', 'claude']]) + routeManifest('gcp', [['vertex', 'gemini']]),
  };
}

function expectNoSecret(label: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${label} contains a credential (${s.slice(0, 6)}…)`).toBe(false);
}

let upstream: OpenAiUpstream;
let gateway: TestGateway;
let logs = '';
const logger = pino(
  { level: 'trace' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logs += chunk.toString();
      done();
    },
  }),
);
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });

beforeAll(async () => {
  upstream = await startOpenAiUpstream();
  gateway = await startTestGateway(manifests(upstream.baseUrl), {
    admin: true,
    auth: new Authenticator(),
    tracer: tracerProvider.getTracer('secret-redaction'),
    logger,
  });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await tracerProvider.shutdown();
});

describe('no credential leaves through an output', () => {
  it('the snapshot really holds every credential (on the wire to a data plane only)', () => {
    const snapshot = gateway.dataplane.store.current?.snapshot;
    expect(snapshot?.providers.map((p) => p.id).sort()).toEqual(['default/bedrock', 'default/openai', 'default/vertex']);
    const wire = wireJson(snapshot);
    for (const s of [OPENAI_KEY, AWS.secretAccessKey, AWS.sessionToken]) expect(wire).toContain(s);
    expect(wire).toContain(JSON.stringify(SA_KEY).slice(1, -1));
    expect(wire).not.toContain(CLIENT_KEY);
  });

  it('tollgate compile prints no provider credential and no client key digest', () => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', 'cli/tollgate.ts', 'compile', '-f', gateway.dir], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    expectNoSecret('compile output', out.stdout + out.stderr);
    const printed = JSON.parse(out.stdout) as { snapshot: { apiKeys: { hmacSha256: string }[]; providers: { apiKey?: string }[] } };
    expect(printed.snapshot.apiKeys.map((k) => k.hmacSha256)).toEqual(['[redacted]']);
    expect(printed.snapshot.providers.find((p) => p.apiKey !== undefined)?.apiKey).toBe('[redacted]');
    expect(out.stdout).not.toContain(PRIVATE_KEY.split('\n')[1] ?? '-');
  });

  it('the snapshot renders redacted through JSON, util.inspect, String and template strings, and so through pino', () => {
    const snapshot = gateway.dataplane.store.current?.snapshot;
    const provider = snapshot?.providers.find((p) => p.id === 'default/openai');
    expectNoSecret('JSON', JSON.stringify(snapshot));
    expectNoSecret('inspect', inspect(snapshot, { depth: 20 }));
    expectNoSecret('String', `${provider?.apiKey} ${String(provider?.apiKey)}`);
    expectNoSecret('spread', JSON.stringify({ ...provider?.apiKey }));
    logger.info({ snapshot, provider }, 'a log line with the whole snapshot');
    const statuses = compile(loadManifests(Object.entries(manifests(upstream.baseUrl)).map(([path, content]) => ({ path, content }))).input).statuses;
    expectNoSecret('status', JSON.stringify(statuses));
  });

  it('an upstream that echoes the credential back reaches the client, the error, the logs and the spans scrubbed', async () => {
    upstream.script({
      kind: 'error',
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${OPENAI_KEY}. Header was Authorization: Bearer ${OPENAI_KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.text();
    expect(res.status).toBe(502);
    expect(body).toContain('Incorrect API key provided: [redacted]');
    expectNoSecret('client error', body);
    // A 400 from the upstream is relayed to the client: scrubbed too.
    upstream.script({ kind: 'error', status: 400, body: { error: { message: `bad request for key ${OPENAI_KEY}`, type: 'invalid_request_error', param: null, code: null } } });
    const relayed = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(relayed.status).toBe(400);
    expectNoSecret('relayed client error', await relayed.text());
  });

  it('/debug/route and /metrics answer only with the admin token, and show no credential', async () => {
    const admin = gateway.adminUrl as string;
    const explain = (headers: Record<string, string>) =>
      fetch(`${admin}/debug/route`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'chat', messages: [] }) });
    expect((await explain({})).status).toBe(401);
    expect((await fetch(`${admin}/metrics`)).status).toBe(401);
    const debug = await explain({ authorization: `Bearer ${gateway.adminToken}`, [CALLER_AUTHORIZATION]: `Bearer ${CLIENT_KEY}` });
    const text = await debug.text();
    expect(debug.status, text).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ decision: { caller: 'key:default/ci', route: 'default/chat' } });
    expectNoSecret('/debug/route', text);
    const metrics = await fetch(`${admin}/metrics`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
    expect(metrics.status).toBe(200);
    expectNoSecret('/metrics', await metrics.text());
  });

  it('the logs and the spans of all of the above hold no credential', async () => {
    await tracerProvider.forceFlush();
    const finished = spans.getFinishedSpans();
    expect(finished.length).toBeGreaterThan(0);
    expectNoSecret('spans', JSON.stringify(finished.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events }))));
    expect(logs).toContain('a log line with the whole snapshot');
    expectNoSecret('logs', logs);
  });
});

// A Vertex Provider's access token is minted from its service-account key at the key's own token_uri:
// it need not look like a Google token (ya29.…), so only knowing it lets an echo of it be scrubbed.
describe('the access token minted from a service-account key', () => {
  const TOKEN = 'opaque-vertex-token-XyZ';
  /** What the upstream answers next: a status (an error echoing the token), or a stream whose error event echoes it. */
  let answer: { status: number } | 'stream-error' = { status: 400 };
  let server: Server;
  let vertexGateway: TestGateway;
  let vertexLogs = '';
  const vertexSpans = new InMemorySpanExporter();
  const vertexTracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(vertexSpans)] });

  beforeAll(async () => {
    // One loopback server is both the key's token_uri and the Vertex upstream.
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/token') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: TOKEN, token_type: 'Bearer', expires_in: 3600 }));
          return;
        }
        const echoed = { error: { code: 400, message: `access token ${TOKEN} is not valid for project p`, status: 'INVALID_ARGUMENT' } };
        if (answer === 'stream-error') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'hel' }] }, index: 0 }] })}\r\n\r\n`);
          res.end(`data: ${JSON.stringify({ error: { ...echoed.error, code: 500, status: 'INTERNAL' } })}\r\n\r\n`);
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { ...echoed.error, code: answer.status } }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const key = JSON.stringify({ type: 'service_account', client_email: 'gw@proj.iam.gserviceaccount.com', private_key: PRIVATE_KEY, token_uri: `${base}/token` });
    const vertex = (name: string) =>
      providerManifest(name, 'vertex', base, '{ serviceAccountKeyRef: { name: gcp, key: key.json } }', '  vertex: { project: p, location: europe-west4 }\n', 'gemini');
    vertexGateway = await startTestGateway(
      {
        'providers.yaml': vertex('vx') + vertex('vx2') + secretManifest('gcp', { 'key.json': key }),
        'routes.yaml': routeManifest('one', [['vx', 'gemini']]) + routeManifest('two', [['vx', 'gemini'], ['vx2', 'gemini']]),
      },
      {
        tracer: vertexTracer.getTracer('secret-redaction'),
        logger: pino(
          { level: 'trace' },
          new Writable({
            write(chunk: Buffer, _enc, done) {
              vertexLogs += chunk.toString();
              done();
            },
          }),
        ),
      },
    );
  });

  afterAll(async () => {
    await vertexGateway?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
    await vertexTracer.shutdown();
  });

  const ask = (model: string, stream = false) =>
    fetch(`${vertexGateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('is scrubbed from an upstream error relayed to the client, a failover summary and a stream error event', async () => {
    answer = { status: 400 };
    const relayed = await ask('one');
    const relayedText = await relayed.text();
    expect(relayed.status, relayedText).toBe(400);
    expect(relayedText).toContain('is not valid for project p');
    expect(relayedText).not.toContain(TOKEN);

    const streamed = await ask('one', true);
    expect(streamed.status).toBe(400);
    expect(await streamed.text()).not.toContain(TOKEN);

    answer = { status: 500 };
    const summary = await ask('two');
    const summaryText = await summary.text();
    expect(summary.status, summaryText).toBe(502);
    expect(summaryText).toContain('is not valid for project p');
    expect(summaryText).not.toContain(TOKEN);

    answer = 'stream-error';
    const broken = await ask('one', true);
    const events = await broken.text();
    expect(broken.status).toBe(200);
    expect(events).toContain('hel');
    expect(events).toContain('is not valid for project p');
    expect(events).not.toContain(TOKEN);

    await vertexTracer.forceFlush();
    const finished = vertexSpans.getFinishedSpans();
    expect(finished.length).toBeGreaterThan(0);
    expect(JSON.stringify(finished.map((s) => ({ attributes: s.attributes, status: s.status, events: s.events })))).not.toContain(TOKEN);
    expect(vertexLogs).toContain('"msg":"request"');
    expect(vertexLogs).not.toContain(TOKEN);
  });
});
