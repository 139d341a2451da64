import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { signRequest } from '../../dataplane/config/sigv4.js';

/** A real S3-compatible server (SeaweedFS, built from its Go module by test/s3/build.sh) on loopback. */
export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  createBucket(bucket: string): Promise<void>;
  /** Keys under a prefix (ListObjectsV2, one page). */
  list(bucket: string, prefix: string): Promise<string[]>;
  /** An object's bytes, gunzipped when the key ends in .gz. */
  get(bucket: string, key: string): Promise<string>;
  /** SIGKILL, as a crash: what it stored stays in its data directory. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data directory, after kill(); resolves once it serves again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export function seaweedBinary(): string {
  const out = execFileSync('bash', [join(here, 'build.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 90 * 60_000 });
  const bin = out.trim().split('\n').pop() ?? '';
  if (!existsSync(bin)) throw new Error(`test/s3/build.sh printed no binary: ${out}`);
  return bin;
}

async function freePort(): Promise<number> {
  // SeaweedFS listens on port+10000 for gRPC as well: keep both below 65536.
  for (;;) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    await new Promise<void>((r) => server.close(() => r()));
    if (address !== null && typeof address !== 'string' && address.port < 55_000) return address.port;
  }
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`weed exited with ${child.exitCode}\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`weed did not listen on ${port} within ${timeoutMs} ms\n${log()}`);
}

/** `core`: pin the server to one CPU (taskset), as the benchmarks pin everything they start. */
export async function startS3(bin: string = seaweedBinary(), opts: { core?: number } = {}): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-seaweed-'));
  const accessKeyId = 'AKIDTOLLGATETEST';
  const secretAccessKey = 'tollgate-test-secret-key';
  const config = join(dir, 's3.json');
  writeFileSync(config, JSON.stringify({ identities: [{ name: 'tollgate', credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }));
  const [master, volume, filer, s3] = [await freePort(), await freePort(), await freePort(), await freePort()];
  let log = '';
  const launch = (): ChildProcess => {
    const args = [
      'server', `-dir=${dir}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-master.port=${master}`, `-volume.port=${volume}`, `-filer.port=${filer}`, '-s3', `-s3.port=${s3}`, `-s3.config=${config}`, '-volume.max=4', '-master.volumeSizeLimitMB=64',
    ];
    const started = opts.core === undefined ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', String(opts.core), bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    started.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    return started;
  };
  let child = launch();
  const endpoint = `http://127.0.0.1:${s3}`;
  const request = async (method: string, path: string, body = ''): Promise<Response> => {
    const url = `${endpoint}${path}`;
    const headers = { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') };
    const signed = signRequest({ method, url, headers, body, region: 'us-east-1', service: 's3' }, { accessKeyId, secretAccessKey }, Date.now());
    return fetch(url, { method, headers: { ...headers, ...signed.headers }, ...(method === 'PUT' ? { body } : {}) });
  };
  const server: S3Server = {
    endpoint,
    accessKeyId,
    secretAccessKey,
    async createBucket(bucket) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await request('PUT', `/${bucket}`).catch((err: Error) => new Response(err.message, { status: 599 }));
        const text = await res.text();
        if (res.ok || text.includes('BucketAlreadyOwnedByYou')) break;
        if (Date.now() > deadline) throw new Error(`create bucket: ${res.status} ${text}\n${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // A bucket is a collection of its own: its first object waits for volumes to be grown, and on a
      // loaded machine that PUT answered 500 InternalError (a seeding write failed). Ready once an
      // object can be stored; the probe is deleted, so listings never show it.
      const probe = `/${bucket}/.tollgate-ready-probe`;
      const writable = Date.now() + 120_000; // at load 45 the master knew no free volume for over 60 s
      for (;;) {
        const res = await request('PUT', probe, 'ready').catch((err: Error) => new Response(err.message, { status: 599 }));
        const text = await res.text();
        if (res.ok) break;
        if (res.status < 500 || Date.now() > writable) throw new Error(`store in bucket ${bucket}: ${res.status} ${text}\n${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const removed = await request('DELETE', probe);
      if (!removed.ok) throw new Error(`delete the probe of bucket ${bucket}: ${removed.status} ${await removed.text()}`);
    },
    async list(bucket, prefix) {
      const res = await request('GET', `/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`list: ${res.status} ${text}`);
      return [...text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? '');
    },
    async get(bucket, key) {
      // After a restart the filer lists before its volume server has registered again: a read
      // answers 5xx for a while. Retry those (bounded); a 4xx or a 5xx that lasts is an error.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const res = await request('GET', `/${bucket}/${key}`);
        const bytes = Buffer.from(await res.arrayBuffer());
        if (res.ok) return key.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
        if (res.status < 500 || Date.now() > deadline) throw new Error(`get: ${res.status} ${bytes.toString()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
    async restart() {
      child = launch();
      await waitForPort(s3, child, 60_000, () => log.slice(-2000));
      // Serving again once a listing answers (the filer and volume server come up after the port).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await request('GET', '/').catch(() => undefined);
        if (res?.ok === true) return;
        if (Date.now() > deadline) throw new Error(`weed did not serve again\n${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      // SIGKILL: its data directory is removed next, and on SIGTERM weed takes ~25 s to exit.
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitForPort(s3, child, 60_000, () => log.slice(-2000));
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return server;
}
