import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

// The Realtime API's WebSocket side as OpenAI serves it: GET /v1/realtime?model=… upgraded with
// `Authorization: Bearer <key>`, session.created first, then for response.create the server events
// response.created, response.output_text.delta…, response.done with usage (an audio answer's when
// the response asks for audio output). Two client events of its
// own make it misbehave as a proxy before an upstream may, repeating the credential it was sent:
// `emulator.echo_credential` in an error event, `emulator.close_echoing_credential` in the close reason;
// `emulator.flood` sends `count` audio deltas of `bytes` each as fast as it can; `emulator.slow_close`
// reads nothing for `ms` (answering a close frame late); a session.update is confirmed with
// session.updated; a response.create with
// `response.metadata.emulator: "hang"` starts a response that never finishes (until a response.cancel:
// response.done cancelled, with usage), `"negative"` one whose usage says input_tokens -1.

/** A spoken answer to a spoken question (response.create with `response.output_modalities: ["audio"]`), some of its audio cached. */
export const REALTIME_AUDIO_USAGE = {
  total_tokens: 1600,
  input_tokens: 1000,
  output_tokens: 600,
  input_token_details: { cached_tokens: 300, text_tokens: 100, audio_tokens: 900, image_tokens: 0, cached_tokens_details: { text_tokens: 50, audio_tokens: 250, image_tokens: 0 } },
  output_token_details: { text_tokens: 80, audio_tokens: 520 },
};

export const REALTIME_USAGE = { total_tokens: 26, input_tokens: 20, output_tokens: 6, input_token_details: { cached_tokens: 4, text_tokens: 20, audio_tokens: 0 }, output_token_details: { text_tokens: 6, audio_tokens: 0 } };

export interface RealtimeEmulator {
  url: string;
  /** Handshake headers and URL of every accepted connection. */
  connections: { url: string; headers: IncomingHttpHeaders }[];
  /** Close codes the emulator saw from the gateway, in order. */
  closes: number[];
  close(): Promise<void>;
}

/** With `azure`: Azure OpenAI's handshake (`/openai/realtime?api-version=…&deployment=…`, `api-key` header). */
export async function startRealtimeEmulator(apiKey: string, azure?: { deployment: string; apiVersion: string }): Promise<RealtimeEmulator> {
  const connections: RealtimeEmulator['connections'] = [];
  const closes: number[] = [];
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const accepted =
      azure === undefined
        ? url.pathname === '/v1/realtime' && req.headers.authorization === `Bearer ${apiKey}` && url.searchParams.has('model')
        : url.pathname === '/openai/realtime' && req.headers['api-key'] === apiKey && url.searchParams.get('api-version') === azure.apiVersion && url.searchParams.get('deployment') === azure.deployment;
    if (!accepted) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections.push({ url: req.url ?? '', headers: req.headers });
      let n = 0;
      const send = (event: Record<string, unknown>): void => ws.send(JSON.stringify({ event_id: `event_${++n}`, ...event }));
      // OpenAI's default output cap is "inf"; a session.update is applied and confirmed (session.updated).
      let session: Record<string, unknown> = { id: 'sess_1', model: url.searchParams.get('model') ?? url.searchParams.get('deployment'), max_response_output_tokens: 'inf' };
      send({ type: 'session.created', session });
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          ws.send(data, { binary: true });
          return;
        }
        const event = JSON.parse(data.toString()) as { type?: string; response?: { output_modalities?: string[]; metadata?: { emulator?: string } } };
        if (event.type === 'response.create') {
          const usage = event.response?.output_modalities?.includes('audio') === true ? REALTIME_AUDIO_USAGE : REALTIME_USAGE;
          send({ type: 'response.created', response: { id: 'resp_rt', status: 'in_progress', output: [] } });
          send({ type: 'response.output_text.delta', response_id: 'resp_rt', item_id: 'item_1', output_index: 0, content_index: 0, delta: 'Hel' });
          // `metadata.emulator`: "hang", the response never finishes (no response.done), as one cut by a
          // close; "failed", it ends failed without usage.
          const how = event.response?.metadata?.emulator;
          if (how === 'hang') return;
          if (how === 'failed') return send({ type: 'response.done', response: { id: 'resp_rt', status: 'failed', output: [], usage: null } });
          // "negative": usage that cannot be true (input_tokens -1), as a faulty upstream might report.
          if (how === 'negative') return send({ type: 'response.done', response: { id: 'resp_rt', status: 'completed', output: [], usage: { ...usage, input_tokens: -1 } } });
          send({ type: 'response.output_text.delta', response_id: 'resp_rt', item_id: 'item_1', output_index: 0, content_index: 0, delta: 'lo' });
          send({ type: 'response.done', response: { id: 'resp_rt', status: 'completed', output: [], usage } });
        } else if (event.type === 'session.update') {
          session = { ...session, ...((event as { session?: Record<string, unknown> }).session ?? {}) };
          send({ type: 'session.updated', session });
        } else if (event.type === 'response.cancel') {
          // What the response had used by then is billed, as OpenAI reports it in the cancelled response.done.
          send({ type: 'response.done', response: { id: 'resp_rt', status: 'cancelled', output: [], usage: REALTIME_USAGE } });
        } else if (event.type === 'emulator.echo_credential') {
          send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_api_key', message: `key ${String(req.headers.authorization ?? req.headers['api-key'])} is not valid`, param: null } });
        } else if (event.type === 'emulator.flood') {
          // As fast as it can: `count` audio deltas of `bytes` each (a client that does not read them).
          const { count = 0, bytes = 0 } = event as { count?: number; bytes?: number };
          const delta = 'A'.repeat(bytes);
          for (let i = 0; i < count; i++) send({ type: 'response.output_audio.delta', response_id: 'resp_rt', item_id: 'item_1', output_index: 0, content_index: 0, delta });
        } else if (event.type === 'emulator.slow_close') {
          // Reads nothing for `ms` (a close frame arriving then is answered late), as an upstream finishing its work.
          const { ms = 0 } = event as { ms?: number };
          const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
          socket.pause();
          setTimeout(() => socket.resume(), ms);
        } else if (event.type === 'emulator.close_echoing_credential') {
          ws.close(4001, `key ${String(req.headers.authorization ?? req.headers['api-key'])} revoked`);
        } else {
          send({ type: 'error', error: { type: 'invalid_request_error', message: `unknown event ${String(event.type)}` } });
        }
      });
      ws.on('close', (code) => closes.push(code));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    closes,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
