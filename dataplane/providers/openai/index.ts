export { openAiAdapter } from './openai-adapter.js';
