// One vLLM-emulator pod (image tollgate-testkit:dev): the OpenAI API with usage, /health and
// vLLM's /metrics on 0.0.0.0:8000, serving the model named by $MODEL.
//
// On SIGTERM it behaves like a server behind a preStop hook: it keeps answering until no request
// is in flight (at most 10 s), then exits.
import { startVllmEmulator } from '../../emulators/vllm.js';

const model = process.env.MODEL ?? 'meta-llama/Llama-3.1-8B-Instruct';
const emu = await startVllmEmulator({ model, host: '0.0.0.0', port: 8000 });
console.log(`vLLM emulator for ${model} on ${emu.url}`);

process.on('SIGTERM', () => {
  const deadline = Date.now() + 10_000;
  const poll = setInterval(() => {
    if (emu.inflight === 0 || Date.now() > deadline) {
      clearInterval(poll);
      console.log(`SIGTERM: exiting after ${emu.served.length} requests`);
      process.exit(0);
    }
  }, 50);
});
