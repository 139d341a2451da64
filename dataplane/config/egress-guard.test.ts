import type { LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseEgressAllowlist } from './egress-allowlist.js';
import { blockedAddress, EgressRefused, egressCompileInput, guardedLookup, guardedLookupVia, refusedLiteral, type ResolveAll, setEgressAllowlist } from './egress-guard.js';
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

describe('with the platform allowlist', () => {
  const lookup = guardedLookupVia(
    resolver({
      'api.openai.com': ['203.0.113.10'],
      'vllm.team-a.svc': ['10.244.1.5'],
      'kubernetes.default.svc': ['10.96.0.1'],
      'split.example': ['10.244.1.6', '10.96.0.2'],
      'metadata.team.svc': ['169.254.169.254'],
    }),
  );
  const withAllowlist = async (run: () => Promise<void>): Promise<void> => {
    const parsed = parseEgressAllowlist(['api.openai.com', '*.team.svc'], ['10.244.0.0/16']);
    if (!parsed.ok) throw new Error(parsed.error);
    setEgressAllowlist(parsed.allowlist);
    try {
      await run();
    } finally {
      setEgressAllowlist(undefined);
    }
  };

  it('connects to a listed name wherever it resolves, an unlisted one only when every address is listed; metadata never', () =>
    withAllowlist(async () => {
      expect((await lookUp(lookup, 'api.openai.com', false)).address).toBe('203.0.113.10');
      expect((await lookUp(lookup, 'vllm.team-a.svc', false)).address).toBe('10.244.1.5');
      for (const [name, address] of [
        ['kubernetes.default.svc', '10.96.0.1'],
        ['split.example', '10.96.0.2'],
      ]) {
        const { err } = await lookUp(lookup, name as string, true);
        expect(err).toBeInstanceOf(EgressRefused);
        expect(err?.code).toBe('EGRESS_NOT_ALLOWED');
        expect(err?.message).toBe(`refused to connect to ${name} (${address}): not in the platform's egress allowlist (--egress-allow-hosts, --egress-allow-cidrs)`);
      }
      // A listed name that resolves to a metadata address is still refused.
      expect((await lookUp(lookup, 'metadata.team.svc', false)).err?.code).toBe('EGRESS_REFUSED');
    }));

  it('refuses an unlisted literal before anything connects, and lifts with the allowlist', async () => {
    await withAllowlist(async () => {
      expect(refusedLiteral('10.96.0.1')?.code).toBe('EGRESS_NOT_ALLOWED');
      expect(refusedLiteral('[::1]')?.code).toBe('EGRESS_NOT_ALLOWED');
      expect(refusedLiteral('10.244.9.9')).toBeUndefined();
      expect(refusedLiteral('169.254.169.254')?.code).toBe('EGRESS_REFUSED');
      // A name is for the lookup to judge.
      expect(refusedLiteral('kubernetes.default.svc')).toBeUndefined();
      const handed: string[] = [];
      const connector = guardedConnector(1_000, (o, callback) => {
        handed.push(o.hostname);
        callback(null, {} as Socket);
      });
      let refused: Error | null = null;
      connector({ hostname: '10.96.0.1', host: '10.96.0.1', protocol: 'http:', port: '80', servername: '' } as Parameters<typeof connector>[0], (...args) => {
        refused = args[0];
      });
      expect(refused).toBeInstanceOf(EgressRefused);
      expect(handed).toEqual([]);
      expect(egressCompileInput()).toEqual({ egressAllowlist: { hosts: ['*.team.svc', 'api.openai.com'], cidrs: ['10.244.0.0/16'] } });
    });
    expect(refusedLiteral('10.96.0.1')).toBeUndefined();
    expect((await lookUp(lookup, 'kubernetes.default.svc', false)).address).toBe('10.96.0.1');
    expect(egressCompileInput()).toEqual({});
  });
});
