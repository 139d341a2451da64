import { describe, expect, it } from 'vitest';
import { scrubFailure, scrubText } from './scrub-credentials.js';

describe('scrubText', () => {
  it.each([
    ['OpenAI echo', 'Incorrect API key provided: sk-proj-abc123XYZ456def789ghi. You can find your API key at https://platform.openai.com/account/api-keys.', 'sk-proj-abc123XYZ456def789ghi'],
    ['partly masked key', 'Incorrect API key provided: sk-abc12***************************xyz9.', 'sk-abc12'],
    ['Anthropic key', 'invalid x-api-key sk-ant-api03-AbCdEf012345', 'sk-ant-api03'],
    ['bearer token', 'Authorization: Bearer opaque-token-value was refused', 'opaque-token-value'],
    ['JWT', 'token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl expired', 'eyJhbGciOiJSUzI1NiJ9'],
    ['AWS key pair', 'The request signature we calculated does not match. AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI'],
    ['AWS key id', 'The security token included in the request is invalid: ASIAIOSFODNN7EXAMPLE', 'ASIAIOSFODNN7EXAMPLE'],
    ['Google API key', 'API key not valid. key=AIzaSyA1234567890abcdefghijklmnopqrstu', 'AIzaSyA123'],
    ['Azure key', 'Access denied due to invalid subscription key 0123456789abcdef0123456789abcdef.', '0123456789abcdef0123456789abcdef'],
    ['key=value', 'upstream said api_key="hunter2hunter2" is wrong', 'hunter2'],
    ['private key', 'cannot parse -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----', 'MIIEvQIBADAN'],
  ])('%s', (_name, text, secret) => {
    const out = scrubText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('cuts the provider’s own credential wherever it appears, whatever its shape', () => {
    expect(scrubText('the key short-k3y!x is wrong', ['short-k3y!x'])).toBe('the key [redacted] is wrong');
  });

  it('keeps what helps: model names, UUIDs, token counts, URLs without credentials', () => {
    const text = "This model's maximum context length is 8192 tokens. model meta-llama/Llama-3.1-70B-Instruct, request 123e4567-e89b-12d3-a456-426614174000";
    expect(scrubText(text)).toBe(text);
  });

  it('summarises: whitespace collapsed, at most 300 characters', () => {
    const out = scrubText(`error\n\n   ${'x '.repeat(1000)}`);
    expect(out.length).toBeLessThanOrEqual(301);
    expect(out.startsWith('error x x')).toBe(true);
  });
});

describe('scrubFailure', () => {
  it('scrubs the message and every string of the relayed client body', () => {
    const failure = scrubFailure(
      { kind: 'ClientError', status: 400, message: 'bad key sk-live-1234567890', clientBody: { error: { message: 'bad key sk-live-1234567890', type: 'invalid_request_error', param: 'Bearer abc.def', code: null } } },
      [],
    );
    expect(JSON.stringify(failure)).not.toMatch(/sk-live|abc\.def/);
    expect(failure.clientBody).toEqual({ error: { message: 'bad key [redacted]', type: 'invalid_request_error', param: 'Bearer [redacted]', code: null } });
  });
});
