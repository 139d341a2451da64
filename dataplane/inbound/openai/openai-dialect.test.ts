import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../core/gateway-error.js';
import { openAiDialect } from './openai-dialect.js';

const messages = [{ role: 'user', content: 'hi' }];

function refusal(op: 'chat' | 'completions', body: unknown): GatewayError | undefined {
  try {
    openAiDialect(op).parse(body as never, 0);
    return undefined;
  } catch (err) {
    return err as GatewayError;
  }
}

describe('openAiDialect: chat', () => {
  it('refuses a top-level system prompt (Anthropic shape) instead of dropping it, naming the param', () => {
    const err = refusal('chat', { model: 'm', system: 'You answer in French.', messages });
    expect(err).toBeInstanceOf(GatewayError);
    expect(err?.toBody()).toEqual({
      error: expect.objectContaining({
        type: 'invalid_request_error',
        param: 'system',
        message: expect.stringMatching(/send it as a message with role "system", or POST \/v1\/messages$/),
      }),
    });
    expect(err?.status).toBe(400);
  });

  it('accepts a system message', () => {
    expect(refusal('chat', { model: 'm', messages: [{ role: 'system', content: 'x' }, ...messages] })).toBeUndefined();
  });
});
