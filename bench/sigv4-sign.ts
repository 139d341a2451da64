/**
 * CPU of signing one request with SigV4 (Bedrock's chat request on the request thread; the S3
 * capture destination's PUT), per build, side by side in one process: builds alternate in rounds of
 * 20,000 signatures over one day's clock, the median round is printed.
 *
 *   npx tsc -p tsconfig.build.json
 *   node --import tsx bench/sigv4-sign.ts <build root A>[,<build root B>] [rounds=9]
 *
 * A build root is a directory with dist/ (the repository after the build, or an export from
 * bench/build-export.sh).
 */
import { resolve } from 'node:path';

type Sign = typeof import('../dataplane/config/sigv4.js').signRequest;

const [rootsArg, roundsArg] = process.argv.slice(2);
if (rootsArg === undefined) throw new Error('usage: sigv4-sign.ts <build root A>[,<build root B>] [rounds]');
const rounds = Number(roundsArg ?? 9);
const roots = rootsArg.split(',');
const signers = await Promise.all(roots.map(async (root) => ((await import(`${resolve(root)}/dist/dataplane/config/sigv4.js`)) as { signRequest: Sign }).signRequest));

// A Bedrock Converse request of a short chat, as the adapter signs it.
const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Summarise the ticket in one short sentence. '.repeat(4) }] }], inferenceConfig: { maxTokens: 256 } });
const url = 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const start = Date.parse('2026-12-06T09:00:00Z');
const perCall: number[][] = signers.map(() => []);
let sink = 0;
for (let r = -1; r < rounds; r++) {
  signers.forEach((sign, i) => {
    const n = 20_000;
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) sink += sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body, region: 'us-east-1', service: 'bedrock' }, credentials, start + k * 1000).signature.length;
    // Round -1 warms both up.
    if (r >= 0) perCall[i]!.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
  });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
roots.forEach((root, i) => console.log(`${root}: ${median(perCall[i]!).toFixed(2)} µs per signature (median of ${rounds} rounds)`));
if (roots.length === 2) console.log(`B/A ${(median(perCall[1]!) / median(perCall[0]!)).toFixed(3)} (time per signature)`);
if (sink === 0) console.log('(nothing signed)');
