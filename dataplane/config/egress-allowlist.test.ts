import { describe, expect, it } from 'vitest';
import { parseEgressAllowlist, splitEntries } from './egress-allowlist.js';

const parsed = (hosts: string[], cidrs: string[]) => {
  const result = parseEgressAllowlist(hosts, cidrs);
  if (!result.ok || result.allowlist === undefined) throw new Error(`expected an allowlist: ${JSON.stringify(result)}`);
  return result.allowlist;
};

describe('parseEgressAllowlist', () => {
  it('is no allowlist at all without entries (everything but link-local and metadata stays reachable)', () => {
    expect(parseEgressAllowlist([], [])).toEqual({ ok: true, allowlist: undefined });
    expect(splitEntries(' api.openai.com, *.openai.azure.com\n10.0.0.0/8 ,,')).toEqual(['api.openai.com', '*.openai.azure.com', '10.0.0.0/8']);
    expect(splitEntries(undefined)).toEqual([]);
  });

  it('refuses the whole list for one entry it cannot read, naming it', () => {
    const refusals: [string[], string[], string][] = [
      [['api.openai.com', 'http://x.example'], [], '"http://x.example" is not a host name'],
      [['*'], [], '"*" is not a host name'],
      [['a.*.example.com'], [], 'is not a host name'],
      [['10.0.0.1'], [], 'is an IP address: list it in the networks'],
      [[], ['10.0.0.0/33'], 'the prefix length must be 0 to 32'],
      [[], ['fd00::/129'], 'the prefix length must be 0 to 128'],
      [[], ['10.0.0.0/8/1'], 'is not an IP address or a network'],
      [[], ['api.openai.com'], 'is not an IP address or a network'],
      [[], ['10.0.0.0/x'], 'the prefix length must be'],
    ];
    for (const [hosts, cidrs, message] of refusals) {
      const result = parseEgressAllowlist(hosts, cidrs);
      expect(result.ok, JSON.stringify([hosts, cidrs])).toBe(false);
      if (!result.ok) expect(result.error).toContain(message);
    }
    const many = Array.from({ length: 1025 }, (_, i) => `h${i}.example.com`);
    expect(parseEgressAllowlist(many, [])).toMatchObject({ ok: false, error: 'the egress allowlist has 1025 entries; at most 1024' });
  });
});

describe('CompiledEgressAllowlist', () => {
  const list = parsed(['API.OpenAI.com.', '*.openai.azure.com'], ['10.244.0.0/16', '192.0.2.7', 'fd00:1::/32']);

  it('lists names exactly, or below a "*." suffix (not the suffix itself), in any case and with a trailing dot', () => {
    for (const host of ['api.openai.com', 'API.OPENAI.COM', 'api.openai.com.', 'team.openai.azure.com', 'a.b.openai.azure.com']) expect(list.allowsName(host), host).toBe(true);
    for (const host of ['openai.azure.com', 'xopenai.azure.com', 'api.openai.com.evil.example', 'evil-api.openai.com', '10.244.0.1', '']) expect(list.allowsName(host), host).toBe(false);
  });

  it('lists addresses by network, IPv4-mapped IPv6 included, and never by name', () => {
    for (const address of ['10.244.0.1', '10.244.255.255', '192.0.2.7', '[fd00:1::5]', 'fd00:1:ffff::1', '::ffff:10.244.3.4']) expect(list.allowsAddress(address), address).toBe(true);
    for (const address of ['10.245.0.1', '192.0.2.8', 'fd00:2::1', '127.0.0.1', 'api.openai.com']) expect(list.allowsAddress(address), address).toBe(false);
  });

  it('tells compile what can never connect: an unlisted literal, or an unlisted name when no network is listed', () => {
    expect(list.mayConnect('api.openai.com')).toBe(true);
    expect(list.mayConnect('10.244.1.1')).toBe(true);
    expect(list.mayConnect('10.1.1.1')).toBe(false);
    // It may resolve into 10.244.0.0/16: only the connection can tell.
    expect(list.mayConnect('vllm.team-a.svc')).toBe(true);
    const namesOnly = parsed(['api.openai.com'], []);
    expect(namesOnly.mayConnect('vllm.team-a.svc')).toBe(false);
    expect(namesOnly.mayConnect('[::1]')).toBe(false);
    expect(namesOnly.describe()).toBe('hosts: api.openai.com; networks: none');
    expect(parsed(Array.from({ length: 10 }, (_, i) => `h${i}.example`), []).describe()).toBe('hosts: h0.example, h1.example, h2.example, h3.example, h4.example, h5.example, h6.example, h7.example and 2 more; networks: none');
  });
});
