// Any server that speaks the OpenAI API (LocalAI, LM Studio, Together, Groq, …): the OpenAI mappers unchanged.
export { openAiAdapter as openAiCompatibleAdapter } from '../openai/openai-adapter.js';
