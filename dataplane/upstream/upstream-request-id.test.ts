import { describe, expect, it } from 'vitest';
import { upstreamRequestId } from './upstream-request-id.js';

describe('upstreamRequestId', () => {
  it("reads the one header the provider names, and only a value a response header can carry", () => {
    expect(upstreamRequestId({ 'request-id': 'req_011' }, ['request-id'])).toBe('req_011');
    expect(upstreamRequestId({ 'x-request-id': 'req_1' }, undefined)).toBeUndefined();
    expect(upstreamRequestId({ 'x-request-id': ['a', 'b'] }, ['x-request-id'])).toBeUndefined();
    // Relayed as it was, an upstream's control characters or spaces would make the client's answer invalid.
    for (const odd of ['a\r\nset-cookie: x', 'a b', '', 'x'.repeat(201), 'é']) expect(upstreamRequestId({ 'x-request-id': odd }, ['x-request-id'])).toBeUndefined();
  });

  it('prefers the first header and reads the second only when the first is missing or unusable', () => {
    const azure = ['apim-request-id', 'x-ms-request-id'] as const;
    expect(upstreamRequestId({ 'apim-request-id': 'apim-1', 'x-ms-request-id': 'ms-1' }, azure)).toBe('apim-1');
    expect(upstreamRequestId({ 'x-ms-request-id': 'ms-1' }, azure)).toBe('ms-1');
    expect(upstreamRequestId({ 'apim-request-id': 'a b', 'x-ms-request-id': 'ms-1' }, azure)).toBe('ms-1');
    expect(upstreamRequestId({}, azure)).toBeUndefined();
  });
});
