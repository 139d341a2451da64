import type { UpstreamFailure } from '../../core/canonical.js';

/**
 * A prompt the provider's safety filters refused (promptFeedback.blockReason, no candidates): a
 * client error with code content_filter, as Azure OpenAI reports filtered prompts.
 */
export function promptBlockedFailure(reason: string): UpstreamFailure {
  const message = `the prompt was blocked by the provider's safety filters (${reason})`;
  return {
    kind: 'ClientError',
    status: 400,
    message,
    clientBody: { error: { message, type: 'invalid_request_error', param: 'messages', code: 'content_filter' } },
  };
}
