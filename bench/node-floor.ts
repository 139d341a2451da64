/**
 * A reference point, not a product: the least a Node gateway must do. node:http server, the JSON
 * body parsed and re-serialised (a gateway has to read `model`), undici to the upstream with a
 * keep-alive pool, the upstream's bytes (JSON or SSE) written back as they arrive. No framework, no
 * routing table, no logging, no metering. The distance from here to Tollgate is what Tollgate's
 * own layers cost; the distance from nginx to here is what Node costs.
 *
 *   node .cache/bench/js/node-floor.js <upstream base URL, e.g. http://127.0.0.1:9000/v1> <port>   (compiled by bench/install.sh)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, request } from 'undici';

const [base, portArg] = process.argv.slice(2);
if (base === undefined || portArg === undefined || !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(base)) {
  process.stderr.write('usage: node-floor.ts <loopback upstream base URL> <port>\n');
  process.exit(2);
}
const upstream = `${base}/chat/completions`;
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, headersTimeout: 0, bodyTimeout: 0 });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
    return;
  }
  const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
  if (typeof body.model !== 'string') {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"model is required"}}');
    return;
  }
  const up = await request(upstream, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  const type = up.headers['content-type'];
  res.writeHead(up.statusCode, { 'content-type': typeof type === 'string' ? type : 'application/json' });
  for await (const chunk of up.body) res.write(chunk as Buffer);
  res.end();
}

createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err) } }));
  });
}).listen(Number(portArg), '127.0.0.1');
