import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request, util } from './undici.js';

let server: Server;
let base: string;

beforeAll(async () => {
  // Answers with the method and path it got, so both request() functions can be compared.
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url })));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((done) => server.close(() => done()));
});

type Call = Parameters<typeof undici.request>;

/** What request() resolves to (status and body) or the error it throws, for one call. */
async function outcome(fn: typeof undici.request, ...args: Call): Promise<unknown> {
  try {
    const res = await fn(...args);
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    return { error: (err as Error).name, message: (err as Error).message };
  }
}

describe("undici's parts (dataplane/config/undici.ts)", () => {
  const dispatcher = new Agent({ keepAliveTimeout: 1000 });
  afterAll(() => dispatcher.close());

  it.each<[string, (b: string) => Call]>([
    ['a string URL', (b) => [`${b}/v1/chat?x=1`, { dispatcher }]],
    ['a URL object', (b) => [new URL(`${b}/a/b`), { method: 'POST', body: 'x', dispatcher }]],
    ['opts.path without its slash', (b) => [`${b}/ignored`, { path: 'v1/models?y=2', dispatcher } as unknown as Call[1]]],
    ['a body and no method (PUT)', (b) => [`${b}/p`, { body: 'x', dispatcher }]],
    ['the global dispatcher', (b) => [`${b}/global`]],
    ['an invalid URL', () => [42 as unknown as string]],
    ['a non-string opts.path', (b) => [b, { path: 7 } as unknown as Call[1]]],
    ['opts.agent', (b) => [b, { agent: {} } as unknown as Call[1]]],
    ['invalid opts', (b) => [b, 'x' as unknown as Call[1]]],
  ])("request() with %s does what undici's own does", async (_, args) => {
    const ours = await outcome(request, ...args(base));
    expect(ours).toEqual(await outcome(undici.request, ...args(base)));
  });

  it('parses raw headers as undici does', () => {
    const raw = [Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('x-a'), Buffer.from('1'), Buffer.from('X-A'), Buffer.from('2')];
    expect(util.parseHeaders(raw)).toEqual(undici.util.parseHeaders(raw));
    expect(util.headerNameToString('Content-Type')).toBe(undici.util.headerNameToString('Content-Type'));
  });

  it("is undici's Agent class and global dispatcher", () => {
    expect(Agent).toBe(undici.Agent);
    expect(undici.getGlobalDispatcher()).toBeInstanceOf(undici.Agent);
  });

  // The point of the module: the data plane and `tollgate dev` never load undici's index (fetch,
  // WebSocket, caches, mocks: 4.6 MiB of heap they do not use). Another process, since this file
  // loads the index itself to compare.
  it("loading the data plane and `tollgate dev` leaves undici's index unloaded", { timeout: 60_000 }, () => {
    const script = [
      "import { createRequire } from 'node:module';",
      "await import('./cli/dev-command.ts');",
      "await import('./dataplane/main/launch.ts');",
      'const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes("/node_modules/undici/"));',
      'console.log(JSON.stringify({ count: loaded.length, index: loaded.some((f) => f.endsWith("/undici/index.js")), fetch: loaded.some((f) => f.includes("/lib/web/fetch/")) }));',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 50_000 });
    expect(run.stderr).toBe('');
    const loaded = JSON.parse(run.stdout) as { count: number; index: boolean; fetch: boolean };
    expect(loaded.count).toBeGreaterThan(0);
    expect(loaded).toMatchObject({ index: false, fetch: false });
  });
});
