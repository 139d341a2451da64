import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secret } from '../../../config/secret-value.js';
import { MAX_ERROR_BODY_CHARS, s3Destination, scrubbed } from './s3.js';

const ACCESS_KEY = 'AKIAEXAMPLEKEY123456';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('S3 destination: a refused PUT', () => {
  let server: Server;
  beforeAll(async () => {
    // An endpoint that echoes what it was sent (a proxy's error page may): the credentials among it.
    server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`denied ${ACCESS_KEY} ${SECRET_KEY} ${'x'.repeat(500)}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("keeps at most 200 characters of the answer, the destination's credentials replaced", async () => {
    const s3 = s3Destination({
      type: 's3',
      name: 'bucket',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      bucket: 'captures',
      region: 'us-east-1',
      prefix: '',
      accessKeyId: secret(ACCESS_KEY),
      secretAccessKey: secret(SECRET_KEY),
      batchIntervalMs: 20,
      maxBatchRecords: 100,
    });
    const group = { policyId: 'team-a/audit', namespace: 'team-a', time: '2026-12-05T03:04:05Z', records: 1, metadata: Buffer.from('{}\n'), content: Buffer.alloc(0) };
    const err = await s3.write([group]).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('answered 403: denied [credential] [credential] xxx');
    expect(err?.message).not.toContain(ACCESS_KEY);
    expect(err?.message).not.toContain(SECRET_KEY);
    expect(err?.message.split('answered 403: ')[1]).toHaveLength(MAX_ERROR_BODY_CHARS);
  });

  it('cuts on a character boundary, and a credential across the cut keeps none of it', () => {
    expect(scrubbed(`${'a'.repeat(MAX_ERROR_BODY_CHARS - 1)}😀`, [])).toBe('a'.repeat(MAX_ERROR_BODY_CHARS - 1));
    expect(scrubbed(`${'a'.repeat(MAX_ERROR_BODY_CHARS - 2)}${SECRET_KEY}`, [SECRET_KEY])).toBe(`${'a'.repeat(MAX_ERROR_BODY_CHARS - 2)}[c`);
  });
});
