export { vertexAdapter } from './vertex-adapter.js';
