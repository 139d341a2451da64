import { connect } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../../test/support/closed-port.js';
import { connectionFailureText, GatewayWordsError } from './connection-failure.js';

describe('connectionFailureText', () => {
  it("says node's connection errors in the gateway's words, without the address node names", async () => {
    const port = await closedPort();
    const socket = connect(port, '127.0.0.1');
    const [err] = (await once(socket, 'error').catch((e: unknown) => [e])) as [Error];
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(connectionFailureText(err)).toBe('the upstream refused the connection (is anything listening at its base URL?)');
    expect(connectionFailureText(new TypeError('fetch failed', { cause: err }))).toBe('the upstream refused the connection (is anything listening at its base URL?)');
  });

  it('names an unknown code, never the message; a code that is not one is not shown', () => {
    const odd = Object.assign(new Error('connect EADDRNOTAVAIL 10.0.4.7:8000 - Local (0.0.0.0:0)'), { code: 'EADDRNOTAVAIL' });
    expect(connectionFailureText(odd)).toBe('could not reach the upstream (EADDRNOTAVAIL)');
    const tls = Object.assign(new Error('write EPROTO … 10.0.4.7'), { code: 'ERR_SSL_SOMETHING_NEW' });
    expect(connectionFailureText(tls)).toBe('the upstream presented a TLS certificate that was not accepted (ERR_SSL_SOMETHING_NEW)');
    expect(connectionFailureText(Object.assign(new Error('x 10.0.4.7'), { code: 'not a code 10.0.4.7' }))).toBe('could not reach the upstream (Error)');
    expect(connectionFailureText(new Error('10.0.4.7'))).toBe('could not reach the upstream (Error)');
    expect(connectionFailureText('10.0.4.7')).toBe('could not reach the upstream');
  });

  it("keeps the gateway's own words about an answer", () => {
    expect(connectionFailureText(new GatewayWordsError('the upstream answered with status 99, which is not an HTTP status'))).toBe('the upstream answered with status 99, which is not an HTTP status');
  });
});
