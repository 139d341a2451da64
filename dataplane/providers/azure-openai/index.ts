export { azureOpenAiAdapter } from './azure-openai-adapter.js';
export { azurePathForwarding } from './azure-paths.js';
