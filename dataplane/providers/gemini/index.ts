export { createGeminiAdapter, geminiAdapter } from './gemini-adapter.js';
