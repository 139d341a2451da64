export { openAiAdapter, openAiResponsesAdapter } from './openai-adapter.js';
