import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { S3Error, S3Store } from './s3-store.js';

// A DataPolicy's s3 endpoint is a tenant's, and so are its answers: what the store makes of them goes
// into the policy's status (DestinationReady, retention) and Warning Events, which readers of the
// policy see without reading its Secret (docs/security.md: never a Secret's values in status).

const CREDENTIALS = { accessKeyId: 'AKIDECHOEDBACK000001', secretAccessKey: 'never-sent-secret-value', sessionToken: `FwoGZXIvYXdzE${'t0k3n'.repeat(60)}END` };

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<S3Store> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => answer(req, res, body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return new S3Store({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bucket: 'b', region: 'us-east-1' }, CREDENTIALS);
}

/** Whether `text` holds 12 or more characters in a row of `secret` (a part of it is as good as the whole to whoever reads it). */
function holdsPartOf(text: string, secret: string): boolean {
  for (let i = 0; i + 12 <= secret.length; i++) if (text.includes(secret.slice(i, i + 12))) return true;
  return false;
}

describe('S3 store errors of an endpoint that echoes the credentials it was sent', () => {
  it('keep no part of a credential that runs across the cut at 400 characters', async () => {
    const endpoint = (): string => `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
    const store = await serve((_req, res) => {
      // The session token starts 40 characters before the cut: cut first, its first 40 characters stayed.
      const head = `bucket b at ${endpoint()} answered 403 AccessDenied: `;
      const message = `${'p'.repeat(360 - head.length)}${CREDENTIALS.sessionToken} and key ${CREDENTIALS.accessKeyId}`;
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(`<Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`);
    });
    const err = await store.probe('p/').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(S3Error);
    const message = (err as S3Error).message;
    expect(message.length).toBeLessThanOrEqual(400);
    expect(message).toContain('answered 403 AccessDenied: ppp');
    expect(message).toContain('[credential]');
    expect(holdsPartOf(message, CREDENTIALS.sessionToken)).toBe(false);
    expect(holdsPartOf(message, CREDENTIALS.accessKeyId)).toBe(false);
  });

  it("scrub and bound a DeleteObjects answer's per-key reasons, and name only keys that were sent", async () => {
    const store = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        '<DeleteResult>' +
          `<Error><Key>a/1.jsonl.gz</Key><Code>AccessDenied</Code><Message>denied to ${CREDENTIALS.accessKeyId} with token ${CREDENTIALS.sessionToken}${'x'.repeat(100_000)}</Message></Error>` +
          '<Error><Key>a/2.jsonl.gz</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>' +
          `<Error><Key>${'k'.repeat(100_000)}</Key><Code>InternalError</Code><Message>not a key that was sent</Message></Error>` +
          '</DeleteResult>',
      );
    });
    const { failed } = await store.delete(['a/1.jsonl.gz', 'a/2.jsonl.gz']);
    expect(failed.map((f) => f.key)).toEqual(['a/1.jsonl.gz']);
    const reason = failed[0]?.reason ?? '';
    expect(reason).toMatch(/^AccessDenied: denied to \[credential\] with token \[credential\]x+$/);
    expect(reason.length).toBeLessThanOrEqual(400);
    expect(holdsPartOf(reason, CREDENTIALS.sessionToken)).toBe(false);
  });
});
