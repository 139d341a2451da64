/**
 * A second reference point: node-floor.ts plus the framework layer Tollgate uses today, i.e.
 * express with `express.json()` for the body and `res.status().set().json()` for the answer (the
 * upstream JSON is parsed and serialised again, as Tollgate does). No routing table, logging or
 * metering. node-floor → express-floor is what the framework costs; express-floor → Tollgate is
 * what Tollgate's own layers cost. Streams are passed through as bytes, as in node-floor.
 *
 *   node .cache/bench/js/express-floor.js <upstream base URL, e.g. http://127.0.0.1:9000/v1> <port>   (compiled by bench/install.sh)
 */
import express, { type Request, type Response } from 'express';
import { Agent, request } from 'undici';

const [base, portArg] = process.argv.slice(2);
if (base === undefined || portArg === undefined || !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(base)) {
  process.stderr.write('usage: express-floor.ts <loopback upstream base URL> <port>\n');
  process.exit(2);
}
const upstream = `${base}/chat/completions`;
const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, headersTimeout: 0, bodyTimeout: 0 });

async function handle(req: Request, res: Response): Promise<void> {
  const body = req.body as Record<string, unknown>;
  if (typeof body.model !== 'string') {
    res.status(400).json({ error: { message: 'model is required' } });
    return;
  }
  const up = await request(upstream, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: req.get('authorization') ?? '' },
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  if (body.stream === true) {
    res.writeHead(up.statusCode, { 'content-type': 'text/event-stream' });
    for await (const chunk of up.body) res.write(chunk as Buffer);
    res.end();
    return;
  }
  res.status(up.statusCode).set({ 'x-request-id': 'bench' }).json(JSON.parse(await up.body.text()) as unknown);
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.post('/v1/chat/completions', express.json({ limit: 10 * 1024 * 1024, type: () => true, strict: false }), (req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) res.status(502);
    res.end(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err) } }));
  });
});
app.listen(Number(portArg), '127.0.0.1');
