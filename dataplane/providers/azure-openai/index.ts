export { azureOpenAiAdapter } from './azure-openai-adapter.js';
