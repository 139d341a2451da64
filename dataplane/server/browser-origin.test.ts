import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { browserRefusal, isLoopbackHost } from './browser-origin.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

describe('requests from web pages', () => {
  it('serves API clients (no Origin, no Sec-Fetch-Site) and same-origin pages', () => {
    expect(browserRefusal(req({ host: '127.0.0.1:8080' }), true)).toBeUndefined();
    expect(browserRefusal(req({ host: 'localhost:8080', origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' }), true)).toBeUndefined();
    expect(browserRefusal(req({ host: 'tollgate.platform.svc:80' }), false)).toBeUndefined();
    expect(browserRefusal(req({ host: '[::1]:8080' }), true)).toBeUndefined();
  });

  it.each([
    ['a cross-site fetch', { host: '127.0.0.1:8080', 'sec-fetch-site': 'cross-site' }],
    ['a same-site fetch from another origin', { host: 'gw.corp.example', 'sec-fetch-site': 'same-site' }],
    ['a foreign Origin', { host: '127.0.0.1:8080', origin: 'http://evil.example' }],
    ['an opaque Origin', { host: '127.0.0.1:8080', origin: 'null' }],
    ['another port of the same host', { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9090' }],
  ])('refuses %s with 403 cross_site_request', (_name, headers) => {
    const err = browserRefusal(req(headers), true);
    expect(err?.status).toBe(403);
    expect(err?.code).toBe('cross_site_request');
  });

  it('on loopback, refuses a Host that is not a loopback name (DNS rebinding); elsewhere any Host is served', () => {
    const rebound = { host: 'evil.example:8080', origin: 'http://evil.example:8080', 'sec-fetch-site': 'same-origin' };
    expect(browserRefusal(req(rebound), true)?.message).toMatch(/loopback/);
    expect(browserRefusal(req({ host: 'evil.example:8080' }), true)?.status).toBe(403);
    expect(browserRefusal(req(rebound), false)).toBeUndefined();
  });

  it('knows loopback listen addresses', () => {
    for (const h of ['127.0.0.1', '127.0.0.53', 'localhost', '::1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.2', '::', '128.0.0.1']) expect(isLoopbackHost(h)).toBe(false);
  });
});
