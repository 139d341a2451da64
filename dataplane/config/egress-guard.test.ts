import type { LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { blockedAddress, EgressRefused, guardedLookup, guardedLookupVia, refusedLiteral, type ResolveAll } from './egress-guard.js';
import { guardedConnector } from './guarded-connector.js';

// No test here sends a packet: blocked addresses are only ever resolved by fake resolvers, or are
// literals that the guard refuses before anything connects.

describe('blockedAddress', () => {
  it('blocks the cloud instance-metadata services and link-local, in every spelling, and nothing else', () => {
    for (const address of ['169.254.169.254', '169.254.0.1', '169.254.255.255', '100.100.100.200', 'fd00:ec2::254', 'fd00:0ec2:0000:0000:0000:0000:0000:0254', 'fe80::1', 'febf::ffff', '[fe80::1]', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '[::ffff:169.254.169.254]']) {
      expect(blockedAddress(address), address).toBe(true);
    }
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.100.100.201', '169.253.255.255', '169.255.0.0', '8.8.8.8', 'fec0::1', 'fd00:ec2::253', '2001:db8::1', 'localhost', 'metadata.google.internal', '']) {
      expect(blockedAddress(address), address).toBe(false);
    }
  });

  it('refuses a blocked literal by name, with a code the error mapping knows', () => {
    const refused = refusedLiteral('169.254.169.254');
    expect(refused).toBeInstanceOf(EgressRefused);
    expect(refused?.code).toBe('EGRESS_REFUSED');
    expect(refused?.message).toBe('refused to connect to 169.254.169.254: a link-local or cloud instance-metadata address');
    expect(refusedLiteral('10.0.0.1')).toBeUndefined();
    expect(refusedLiteral('api.openai.com')).toBeUndefined();
  });
});

/** A resolver that answers from a table, as dns.lookup with all: true would. */
const resolver =
  (table: Record<string, string[]>): ResolveAll =>
  (hostname, _options, callback) => {
    const addresses = table[hostname];
    if (addresses === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

const lookUp = (lookup: ReturnType<typeof guardedLookupVia>, hostname: string, all: boolean): Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }> =>
  new Promise((resolve) => lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })));

describe('guardedLookup', () => {
  const lookup = guardedLookupVia(
    resolver({
      'metadata.google.internal': ['169.254.169.254'],
      'rebound.example': ['10.0.0.7', 'fd00:ec2::254'],
      'bucket.example': ['10.0.0.8', 'fd12::8'],
    }),
  );

  it('refuses a name when any of its addresses is blocked, before the connection is made', async () => {
    for (const all of [false, true]) {
      for (const name of ['metadata.google.internal', 'rebound.example']) {
        const { err } = await lookUp(lookup, name, all);
        expect(err).toBeInstanceOf(EgressRefused);
        expect(err?.message).toContain(`refused to connect to ${name} (`);
      }
    }
  });

  it('answers as dns.lookup does otherwise: the first address, or all of them; its errors as they are', async () => {
    expect(await lookUp(lookup, 'bucket.example', false)).toEqual({ err: null, address: '10.0.0.8', family: 4 });
    expect(await lookUp(lookup, 'bucket.example', true)).toEqual({ err: null, address: [{ address: '10.0.0.8', family: 4 }, { address: 'fd12::8', family: 6 }], family: undefined });
    expect((await lookUp(lookup, 'nowhere.example', false)).err?.code).toBe('ENOTFOUND');
  });

  it('over the system resolver, lets loopback through (tollgate dev, in-pod sidecars)', async () => {
    const { err, address } = await lookUp(guardedLookup, 'localhost', false);
    expect(err).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(address);
  });
});

describe('guardedConnector', () => {
  type Options = Parameters<ReturnType<typeof guardedConnector>>[0];
  const options = (hostname: string): Options => ({ hostname, host: hostname, protocol: 'http:', port: '80', servername: '' }) as Options;

  it('refuses a blocked literal at once, without handing it to the connector; passes anything else on as it is', () => {
    const handed: Options[] = [];
    const connector = guardedConnector(1_000, (o, callback) => {
      handed.push(o);
      callback(null, {} as Socket);
    });
    for (const host of ['169.254.169.254', '[fe80::1]', '100.100.100.200']) {
      let result: [Error | null, unknown] | undefined;
      connector(options(host), (err, socket) => (result = [err, socket]));
      // Synchronous: nothing was started.
      expect(result?.[0]).toBeInstanceOf(EgressRefused);
      expect(result?.[1]).toBeNull();
    }
    expect(handed).toEqual([]);
    connector(options('api.example.com'), () => undefined);
    connector(options('10.1.2.3'), () => undefined);
    expect(handed.map((o) => o.hostname)).toEqual(['api.example.com', '10.1.2.3']);
  });
});
