import { type Agent, request } from 'node:http';
import { BENCH_API_KEY } from './manifests.js';

/** One chat completion POST of `body` over `agent`, with the bench's API key: resolves once the answer is read, rejects on a non-200. */
export function postChat(url: string, agent: Agent, body: string): Promise<void> {
  return new Promise((done, fail) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? done() : fail(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', fail);
    req.end(body);
  });
}
