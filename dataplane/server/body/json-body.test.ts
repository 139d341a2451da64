import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../core/gateway-error.js';
import { ByteBudget } from '../../core/byte-budget.js';
import { readJsonBody } from './json-body.js';

const limits = { maxBodyBytes: 1024, maxInflightBodyBytes: 4096, maxJsonElements: 100 };

/** A request body arriving in the given chunks, as node's IncomingMessage delivers it. */
function request(chunks: Buffer[]): { req: IncomingMessage; res: ServerResponse; body: PassThrough } {
  const body = new PassThrough();
  const req = Object.assign(body, { headers: { 'content-type': 'application/json' } }) as unknown as IncomingMessage;
  const res = new EventEmitter() as unknown as ServerResponse;
  for (const c of chunks) body.write(c);
  body.end();
  return { req, res, body };
}

describe('readJsonBody', () => {
  it('reads a body of one chunk and of many (a character split between chunks) alike, and gives its bytes back when the response closes', async () => {
    const text = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'grüße, 日本' }] }));
    const budget = new ByteBudget(4096);
    const one = request([text]);
    const split = request([text.subarray(0, 40), text.subarray(40, 41), text.subarray(41)]);
    const parsedOne = await readJsonBody(one.req, one.res, limits, budget);
    const parsedSplit = await readJsonBody(split.req, split.res, limits, budget);
    expect(parsedOne).toEqual(JSON.parse(text.toString('utf8')));
    expect(parsedSplit).toEqual(parsedOne);
    expect(budget.inUse).toBe(2 * text.length);
    one.res.emit('close');
    split.res.emit('close');
    expect(budget.inUse).toBe(0);
  });

  it('a body that stops arriving before its end is refused with 408 after the idle time, and its bytes given back', async () => {
    const budget = new ByteBudget(4096);
    const body = new PassThrough();
    const req = Object.assign(body, { headers: { 'content-type': 'application/json', 'content-length': '1000' } }) as unknown as IncomingMessage;
    const res = new EventEmitter() as unknown as ServerResponse;
    body.write(Buffer.from(`{"model":"${'m'.repeat(500)}`));
    const read = readJsonBody(req, res, limits, budget, 50).then(
      () => undefined,
      (e: unknown) => e,
    );
    const err = await read;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ status: 408, code: 'request_body_timeout' });
    expect(budget.inUse).toBe(510);
    res.emit('close');
    expect(budget.inUse).toBe(0);
  });

  it('a declared body that never starts is refused with 408 after the idle time', async () => {
    const body = new PassThrough();
    const req = Object.assign(body, { headers: { 'content-type': 'application/json', 'content-length': '100' }, complete: false }) as unknown as IncomingMessage;
    const err = await readJsonBody(req, new EventEmitter() as unknown as ServerResponse, limits, new ByteBudget(4096), 50).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 408, code: 'request_body_timeout' });
  });

  it('a body that arrives after the read began, in the same turn of the event loop, is read', async () => {
    const body = new PassThrough();
    const req = Object.assign(body, { headers: { 'content-type': 'application/json' }, complete: false }) as unknown as IncomingMessage;
    const reading = readJsonBody(req, new EventEmitter() as unknown as ServerResponse, limits, new ByteBudget(4096), 50);
    body.end(Buffer.from('{"model":"m"}'));
    expect(await reading).toEqual({ model: 'm' });
  });

  it('an empty body reads as {}', async () => {
    const { req, res } = request([]);
    expect(await readJsonBody(req, res, limits, new ByteBudget(4096))).toEqual({});
  });

  it('a body stream that fails twice is a 400 once, and its second error is still handled (not an uncaught exception)', async () => {
    const body = new EventEmitter();
    const req = Object.assign(body, { headers: {}, pause: () => undefined }) as unknown as IncomingMessage;
    const reading = readJsonBody(req, new EventEmitter() as unknown as ServerResponse, limits, new ByteBudget(4096));
    body.emit('error', new Error('socket hang up'));
    expect(() => body.emit('error', new Error('again'))).not.toThrow();
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    expect((err as GatewayError).message).toContain('socket hang up');
  });

  it('refuses a body with more objects, arrays and object members than the limit (400 json_too_many_elements, before parsing); token-id numbers and brackets or colons inside strings do not count', async () => {
    const read = (value: string): Promise<unknown> => {
      const { req, res } = request([Buffer.from(value)]);
      return readJsonBody(req, res, limits, new ByteBudget(4096)).catch((e: unknown) => e);
    };
    // The root object, 97 members, the member "ids" and its array: 100 elements, the limit.
    const members = (n: number): string => Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',');
    const atLimit = `{${members(97)},"ids":[${Array.from({ length: 40 }, () => '7').join(',')}]}`;
    expect(await read(atLimit)).toMatchObject({ k0: 0, ids: expect.any(Array) });
    const over = await read(`{${members(98)},"ids":[]}`);
    expect(over).toBeInstanceOf(GatewayError);
    expect(over).toMatchObject({ status: 400, code: 'json_too_many_elements', type: 'invalid_request_error' });
    expect((over as GatewayError).message).toContain('more than 100 objects, arrays and object members');
    expect(await read(`{"text":"${'[{:'.repeat(200)}"}`)).toEqual({ text: '[{:'.repeat(200) });
    expect(await read(`[${Array.from({ length: 101 }, () => '[]').join(',')}]`)).toMatchObject({ code: 'json_too_many_elements' });
  });

  // A caller's header is bounded only by node's header limit (16 KB): an error quotes a bounded, printable part of it.
  it('quotes an unsupported content-encoding or charset cut to 64 characters and as printable ASCII', async () => {
    const refused = async (headers: Record<string, string>): Promise<string> => {
      const { req, res } = request([Buffer.from('{}')]);
      Object.assign(req.headers, headers);
      const err = await readJsonBody(req, res, limits, new ByteBudget(4096)).then(() => undefined, (e: unknown) => e);
      return err instanceof GatewayError ? err.message : 'not refused';
    };
    expect(await refused({ 'content-encoding': `x-${'z'.repeat(10_000)}` })).toBe(`content-encoding x-${'z'.repeat(62)}… is not supported (use gzip, deflate, br or none)`);
    expect(await refused({ 'content-type': `application/json; charset=x-${'z'.repeat(10_000)}` })).toBe(`charset x-${'z'.repeat(62)}… is not supported: send the JSON body as UTF-8`);
    expect(await refused({ 'content-encoding': 'gz\u00e9ip' })).toBe('content-encoding gz?ip is not supported (use gzip, deflate, br or none)');
  });
});
