export { bedrockAdapter } from './bedrock-adapter.js';
