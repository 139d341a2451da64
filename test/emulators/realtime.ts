import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

// The Realtime API's WebSocket side as OpenAI serves it: GET /v1/realtime?model=… upgraded with
// `Authorization: Bearer <key>`, session.created first, then for response.create the server events
// response.created, response.output_text.delta…, response.done with usage (an audio answer's when
// the response asks for audio output). It refuses what OpenAI refuses, with an error event naming
// the client's event_id: text that is not JSON, an unknown event type, a session.update without
// `session.type` (GA) or with a field of the other protocol (beta: OpenAI-Beta: realtime=v1), an
// unknown field, an output cap outside 1..4096 or "inf", an audio format OpenAI does not serve, audio
// that is not base64, and a response.cancel with no response running. Server VAD is on by default,
// as OpenAI's: an input_audio_buffer.append with sound after speech went quiet (an append of zeros)
// ends the turn: committed, then a response of the server's own (response.created, a spoken answer
// that ends VAD_RESPONSE_MS later, or at once, input billed and no output, on a response.cancel),
// billed the whole conversation's audio so far as input (each turn's at 10 tokens a second, each
// answer's VAD_OUTPUT_TOKENS), as the conversation grows.
// `turn_detection: null` turns it off; `create_response: false` commits without a response. A
// session with an input transcription model reports each turn's transcription with its usage
// (conversation.item.input_audio_transcription.completed), billed apart from the responses; with
// the transcription prompt `emulator:hang` it never does, with `emulator:fail` it reports
// ...transcription.failed. A user item created with input audio (conversation.item.create) is
// transcribed the same way. An input_audio_buffer.clear drops the turn's audio (input_audio_buffer.cleared).
// Four client events of its own make it misbehave as a proxy before an upstream may, repeating the
// credential it was sent: `emulator.echo_credential` in an error event, `emulator.close_echoing_credential`
// in the close reason; `emulator.flood` sends `count` audio deltas of `bytes` each as fast as it can;
// `emulator.slow_close` reads nothing for `ms` (answering a close frame late); a session.update is
// confirmed with session.updated; a response.create with `response.metadata.emulator: "hang"` starts
// a response that never finishes (until a response.cancel: response.done cancelled, with usage),
// `"negative"` one whose usage says input_tokens -1.

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
      // The beta protocol (OpenAI-Beta: realtime=v1) has its own session shape; GA's is the default.
      const beta = String(req.headers['openai-beta'] ?? '').includes('realtime=v1');
      let n = 0;
      let responses = 0;
      const send = (event: Record<string, unknown>): void => ws.send(JSON.stringify({ event_id: `event_${++n}`, ...event }));
      const refuse = (clientEventId: unknown, code: string, message: string, param: string | null = null): void =>
        send({ type: 'error', error: { type: 'invalid_request_error', code, message, param, event_id: typeof clientEventId === 'string' ? clientEventId : null } });
      // OpenAI's defaults: instructions of its own (20 bytes, read by every response: REALTIME_USAGE's 20 input
      // tokens hold them), no output cap ("inf"), server VAD that creates a response at the end of each turn.
      let session: Record<string, unknown> = beta
        ? { id: 'sess_1', object: 'realtime.session', model: url.searchParams.get('model') ?? url.searchParams.get('deployment'), instructions: DEFAULT_INSTRUCTIONS, max_response_output_tokens: 'inf', input_audio_format: 'pcm16', turn_detection: { ...DEFAULT_VAD } }
        : { id: 'sess_1', object: 'realtime.session', type: 'realtime', model: url.searchParams.get('model') ?? url.searchParams.get('deployment'), instructions: DEFAULT_INSTRUCTIONS, max_output_tokens: 'inf', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { ...DEFAULT_VAD } } } };
      send({ type: 'session.created', session });
      /** Responses started and not done: `hang` ones wait for a response.cancel; VAD ones finish after VAD_RESPONSE_MS. */
      const running = new Map<string, { timer?: NodeJS.Timeout; usage: Record<string, unknown> }>();
      const finish = (id: string, status: 'completed' | 'cancelled', usage: unknown): void => {
        const r = running.get(id);
        if (r === undefined) return;
        clearTimeout(r.timer);
        running.delete(id);
        send({ type: 'response.done', response: { id, status, output: [], usage } });
      };
      // Server VAD: speech (an append with a sample that is not silence) then silence (an append of zeros) ends a turn.
      let speaking = false;
      /** The bytes of speech in the turn: its input is billed at OpenAI's 10 audio tokens a second. */
      let turnBytes = 0;
      /** The audio tokens of the conversation so far (VAD turns and their answers): each response reads all of it. */
      let conversation = 0;
      let turns = 0;
      let created = 0;
      // Input transcription of an item (a committed turn, a user item created with audio), when the
      // session names a model: billed apart, as OpenAI reports it (whisper-1 by duration, the gpt-4o
      // transcribe models by tokens: the audio in, 3 out).
      const transcribe = (itemId: string, bytes: number): void => {
        const transcriber = transcriptionModel(session, beta);
        // A transcription prompt of `emulator:hang` is never reported; `emulator:fail` fails (billed all the same).
        const prompt = transcriptionPrompt(session, beta);
        if (transcriber !== undefined && prompt === 'emulator:fail') {
          send({ type: 'conversation.item.input_audio_transcription.failed', item_id: itemId, content_index: 0, error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'The audio could not be transcribed.', param: null } });
        } else if (transcriber !== undefined && prompt !== 'emulator:hang') {
          const seconds = bytes / bytesPerSecond(session, beta);
          const audioTokens = Math.ceil(seconds * 10);
          const usage = transcriber === 'whisper-1' ? { type: 'duration', seconds } : { type: 'tokens', total_tokens: audioTokens + 3, input_tokens: audioTokens, input_token_details: { text_tokens: 0, audio_tokens: audioTokens }, output_tokens: 3 };
          send({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript: 'one two three', usage });
        }
      };
      const endTurn = (): void => {
        speaking = false;
        const itemId = `item_vad_${++turns}`;
        send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 1000, item_id: itemId });
        send({ type: 'input_audio_buffer.committed', previous_item_id: null, item_id: itemId });
        send({ type: 'conversation.item.added', previous_item_id: null, item: { id: itemId, type: 'message', role: 'user', content: [{ type: 'input_audio' }] } });
        transcribe(itemId, turnBytes);
        // The committed turn joins the conversation, a response of the server's own or not.
        conversation += Math.ceil((turnBytes / bytesPerSecond(session, beta)) * 10);
        turnBytes = 0;
        const vad = turnDetection(session, beta);
        if (vad?.create_response === false) return;
        const audioIn = conversation;
        const id = `resp_${++responses}`;
        send({ type: 'response.created', response: { id, status: 'in_progress', output: [] } });
        send({ type: 'response.output_audio.delta', response_id: id, item_id: `item_out_${responses}`, output_index: 0, content_index: 0, delta: 'AAAA' });
        // A spoken answer takes a while; a response.cancel before then bills its input and no output.
        const usage = (out: number): Record<string, unknown> => ({ total_tokens: audioIn + out, input_tokens: audioIn, output_tokens: out, input_token_details: { cached_tokens: 0, text_tokens: 0, audio_tokens: audioIn, image_tokens: 0 }, output_token_details: { text_tokens: 0, audio_tokens: out } });
        const complete = (): void => {
          conversation += VAD_OUTPUT_TOKENS;
          finish(id, 'completed', usage(VAD_OUTPUT_TOKENS));
        };
        // Instructions `emulator:slow`: a long answer (a client may speak over it).
        running.set(id, { usage: usage(0), timer: setTimeout(complete, session.instructions === 'emulator:slow' ? VAD_SLOW_RESPONSE_MS : VAD_RESPONSE_MS) });
      };
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          ws.send(data, { binary: true });
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(data.toString());
        } catch {
          return refuse(null, 'invalid_json', 'The server could not parse the JSON of this event.');
        }
        if (!isRecord(parsed) || typeof parsed.type !== 'string') return refuse(null, 'missing_required_parameter', "Missing required parameter: 'type'.", 'type');
        const event = parsed as { type: string; event_id?: unknown; response?: { output_modalities?: string[]; metadata?: { emulator?: string } } } & Record<string, unknown>;
        if (!CLIENT_EVENTS.has(event.type)) return refuse(event.event_id, 'invalid_value', `Invalid value: '${event.type}'. Supported values are: ${[...CLIENT_EVENTS].filter((t) => !t.startsWith('emulator.')).map((t) => `'${t}'`).join(', ')}.`, 'type');
        if (event.type === 'response.create') {
          const problem = responseProblem(event.response, beta);
          if (problem !== undefined) return refuse(event.event_id, problem.code, problem.message, problem.param);
          const usage = event.response?.output_modalities?.includes('audio') === true ? REALTIME_AUDIO_USAGE : REALTIME_USAGE;
          const id = `resp_${++responses}`;
          send({ type: 'response.created', response: { id, status: 'in_progress', output: [] } });
          send({ type: 'response.output_text.delta', response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta: 'Hel' });
          // `metadata.emulator`: "hang", the response never finishes (no response.done), as one cut by a
          // close, until a response.cancel (billed REALTIME_USAGE); "failed", it ends failed without usage.
          const how = event.response?.metadata?.emulator;
          if (how === 'hang') return void running.set(id, { usage: REALTIME_USAGE });
          if (how === 'failed') return send({ type: 'response.done', response: { id, status: 'failed', output: [], usage: null } });
          // "negative": usage that cannot be true (input_tokens -1), as a faulty upstream might report.
          if (how === 'negative') return send({ type: 'response.done', response: { id, status: 'completed', output: [], usage: { ...usage, input_tokens: -1 } } });
          send({ type: 'response.output_text.delta', response_id: id, item_id: 'item_1', output_index: 0, content_index: 0, delta: 'lo' });
          send({ type: 'response.done', response: { id, status: 'completed', output: [], usage } });
        } else if (event.type === 'session.update') {
          const problem = sessionProblem(event.session, beta);
          if (problem !== undefined) return refuse(event.event_id, problem.code, problem.message, problem.param);
          session = merge(session, event.session as Record<string, unknown>);
          send({ type: 'session.updated', session });
        } else if (event.type === 'input_audio_buffer.append') {
          if (typeof event.audio !== 'string') return refuse(event.event_id, 'missing_required_parameter', "Missing required parameter: 'audio'.", 'audio');
          if (!BASE64.test(event.audio)) return refuse(event.event_id, 'invalid_value', 'Invalid audio: the audio must be base64 encoded.', 'audio');
          const audio = Buffer.from(event.audio, 'base64');
          if (turnDetection(session, beta) === null) return;
          if (audio.some((b) => b !== 0)) {
            turnBytes += audio.length;
            if (!speaking) send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: `item_vad_${turns + 1}` });
            speaking = true;
          } else if (speaking) endTurn();
        } else if (event.type === 'conversation.item.create') {
          // The item joins the conversation (GA conversation.item.added, beta conversation.item.created,
          // its audio not echoed); a user item with input audio is transcribed as a committed turn is.
          const item = event.item;
          if (!isRecord(item)) return refuse(event.event_id, 'missing_required_parameter', "Missing required parameter: 'item'.", 'item');
          const content = Array.isArray(item.content) ? (item.content as unknown[]).filter(isRecord) : [];
          const audio = content.filter((part) => part.type === 'input_audio');
          if (audio.some((part) => typeof part.audio !== 'string' || !BASE64.test(part.audio))) return refuse(event.event_id, 'invalid_value', 'Invalid audio: the audio must be base64 encoded.', 'item.content');
          const itemId = typeof item.id === 'string' ? item.id : `item_created_${++created}`;
          const echoed = content.map((part) => (part.type === 'input_audio' ? { type: 'input_audio', transcript: null } : part));
          send({ type: beta ? 'conversation.item.created' : 'conversation.item.added', previous_item_id: null, item: { ...item, id: itemId, content: echoed } });
          const bytes = audio.reduce((sum, part) => sum + Buffer.from(String(part.audio), 'base64').length, 0);
          if (item.role === 'user' && audio.length > 0) transcribe(itemId, bytes);
          conversation += Math.ceil((bytes / bytesPerSecond(session, beta)) * 10);
        } else if (event.type === 'input_audio_buffer.clear') {
          // The turn's audio so far is dropped: no item, no transcription.
          turnBytes = 0;
          speaking = false;
          send({ type: 'input_audio_buffer.cleared' });
        } else if (event.type === 'response.cancel') {
          // What the response had used by then is billed, as OpenAI reports it in the cancelled response.done.
          const id = typeof event.response_id === 'string' ? event.response_id : [...running.keys()].at(-1);
          if (id === undefined || !running.has(id)) return refuse(event.event_id, 'response_cancel_not_active', 'Cancellation failed: no active response found.');
          finish(id, 'cancelled', running.get(id)?.usage);
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
        }
        // The other client events (conversation.item.retrieve/truncate/delete, input_audio_buffer.commit, output_audio_buffer.clear) change nothing the tests read.
      });
      ws.on('close', () => {
        for (const r of running.values()) clearTimeout(r.timer);
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

/** The instructions a session has when the client sets none (OpenAI's are longer). */
const DEFAULT_INSTRUCTIONS = 'You are a helpful AI';
/** What OpenAI's server VAD is when a session does not set it (GA: audio.input.turn_detection; beta: turn_detection). */
const DEFAULT_VAD = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true };
/** How long a response server VAD started takes to finish (a spoken answer streams for a while), and its audio tokens out. */
export const VAD_RESPONSE_MS = 150;
export const VAD_OUTPUT_TOKENS = 200;
/** How long a VAD response of a session whose instructions are `emulator:slow` takes. */
export const VAD_SLOW_RESPONSE_MS = 4000;

/** Bytes of input audio a second at the session's format: pcm16 at 24 kHz, G.711 at 8 kHz. */
function bytesPerSecond(session: Record<string, unknown>, beta: boolean): number {
  const input = isRecord(session.audio) && isRecord(session.audio.input) ? session.audio.input : {};
  const format = beta ? session.input_audio_format : isRecord(input.format) ? input.format.type : undefined;
  return format === 'g711_ulaw' || format === 'g711_alaw' || format === 'audio/pcmu' || format === 'audio/pcma' ? 8000 : 48000;
}

/** The client events the Realtime API accepts (the SDK's RealtimeClientEvent), and the emulator's own. */
const CLIENT_EVENTS = new Set([
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'output_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'conversation.item.delete',
  'response.create',
  'response.cancel',
  'emulator.echo_credential',
  'emulator.close_echoing_credential',
  'emulator.flood',
  'emulator.slow_close',
]);

/** The session fields each protocol accepts (the SDK's RealtimeSessionCreateRequest; the beta's session object). */
const GA_SESSION_FIELDS = new Set(['type', 'audio', 'include', 'instructions', 'max_output_tokens', 'model', 'output_modalities', 'parallel_tool_calls', 'prompt', 'reasoning', 'tool_choice', 'tools', 'tracing', 'truncation']);
const BETA_SESSION_FIELDS = new Set(['modalities', 'instructions', 'voice', 'input_audio_format', 'output_audio_format', 'input_audio_transcription', 'input_audio_noise_reduction', 'turn_detection', 'tools', 'tool_choice', 'temperature', 'max_response_output_tokens', 'speed', 'tracing', 'model', 'include']);
const GA_RESPONSE_FIELDS = new Set(['audio', 'conversation', 'input', 'instructions', 'max_output_tokens', 'metadata', 'output_modalities', 'prompt', 'tool_choice', 'tools']);
const BETA_RESPONSE_FIELDS = new Set(['modalities', 'instructions', 'voice', 'output_audio_format', 'tools', 'tool_choice', 'temperature', 'max_response_output_tokens', 'max_output_tokens', 'conversation', 'metadata', 'input', 'output_modalities']);
const GA_FORMATS = new Set(['audio/pcm', 'audio/pcmu', 'audio/pcma']);
const BETA_FORMATS = new Set(['pcm16', 'g711_ulaw', 'g711_alaw']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface Problem {
  code: string;
  message: string;
  param: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const unknownField = (fields: Record<string, unknown>, allowed: ReadonlySet<string>, at: string): Problem | undefined => {
  const extra = Object.keys(fields).find((k) => !allowed.has(k));
  return extra === undefined ? undefined : { code: 'unknown_parameter', message: `Unknown parameter: '${at}.${extra}'.`, param: `${at}.${extra}` };
};

/** An output cap is an integer from 1 to 4096, or "inf". */
function capProblem(value: unknown, param: string): Problem | undefined {
  if (value === undefined || value === 'inf' || (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 4096)) return undefined;
  return { code: 'invalid_value', message: `Invalid '${param}': expected an integer between 1 and 4096, or 'inf'.`, param };
}

function turnDetectionProblem(value: unknown, param: string): Problem | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value) || (value.type !== 'server_vad' && value.type !== 'semantic_vad')) return { code: 'invalid_value', message: `Invalid '${param}.type': expected 'server_vad' or 'semantic_vad'.`, param: `${param}.type` };
  if (value.create_response !== undefined && typeof value.create_response !== 'boolean') return { code: 'invalid_type', message: `Invalid type for '${param}.create_response': expected a boolean.`, param: `${param}.create_response` };
  return undefined;
}

function formatProblem(value: unknown, param: string): Problem | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || typeof value.type !== 'string' || !GA_FORMATS.has(value.type)) return { code: 'invalid_value', message: `Invalid '${param}.type': expected one of 'audio/pcm', 'audio/pcmu', 'audio/pcma'.`, param: `${param}.type` };
  if (value.type === 'audio/pcm' && value.rate !== undefined && value.rate !== 24000) return { code: 'invalid_value', message: `Invalid '${param}.rate': only 24000 is supported.`, param: `${param}.rate` };
  return undefined;
}

/** Why the Realtime API refuses a session.update's session, else undefined. */
function sessionProblem(session: unknown, beta: boolean): Problem | undefined {
  if (!isRecord(session)) return { code: 'missing_required_parameter', message: "Missing required parameter: 'session'.", param: 'session' };
  if (beta) {
    const extra = unknownField(session, BETA_SESSION_FIELDS, 'session');
    if (extra !== undefined) return extra;
    for (const f of ['input_audio_format', 'output_audio_format'] as const) {
      if (session[f] !== undefined && (typeof session[f] !== 'string' || !BETA_FORMATS.has(session[f]))) return { code: 'invalid_value', message: `Invalid 'session.${f}': expected one of 'pcm16', 'g711_ulaw', 'g711_alaw'.`, param: `session.${f}` };
    }
    return capProblem(session.max_response_output_tokens, 'session.max_response_output_tokens') ?? turnDetectionProblem(session.turn_detection, 'session.turn_detection');
  }
  if (session.type !== 'realtime' && session.type !== 'transcription') return { code: 'missing_required_parameter', message: "Missing required parameter: 'session.type'.", param: 'session.type' };
  const extra = unknownField(session, GA_SESSION_FIELDS, 'session');
  if (extra !== undefined) return extra;
  const audio = session.audio;
  if (audio !== undefined && !isRecord(audio)) return { code: 'invalid_type', message: "Invalid type for 'session.audio': expected an object.", param: 'session.audio' };
  const input = isRecord(audio) && isRecord(audio.input) ? audio.input : {};
  const output = isRecord(audio) && isRecord(audio.output) ? audio.output : {};
  return capProblem(session.max_output_tokens, 'session.max_output_tokens') ?? formatProblem(input.format, 'session.audio.input.format') ?? formatProblem(output.format, 'session.audio.output.format') ?? turnDetectionProblem(input.turn_detection, 'session.audio.input.turn_detection');
}

/** Why the Realtime API refuses a response.create's response, else undefined. */
function responseProblem(response: unknown, beta: boolean): Problem | undefined {
  if (response === undefined) return undefined;
  if (!isRecord(response)) return { code: 'invalid_type', message: "Invalid type for 'response': expected an object.", param: 'response' };
  const extra = unknownField(response, beta ? BETA_RESPONSE_FIELDS : GA_RESPONSE_FIELDS, 'response');
  if (extra !== undefined) return extra;
  const modalities = response.output_modalities ?? response.modalities;
  if (modalities !== undefined && (!Array.isArray(modalities) || modalities.some((m) => m !== 'text' && m !== 'audio'))) return { code: 'invalid_value', message: "Invalid 'response.output_modalities': expected 'text' or 'audio'.", param: 'response.output_modalities' };
  return capProblem(response.max_output_tokens, 'response.max_output_tokens') ?? capProblem(response.max_response_output_tokens, 'response.max_response_output_tokens');
}

/** The session's turn detection (null: none, the client commits and creates responses itself). */
function turnDetection(session: Record<string, unknown>, beta: boolean): Record<string, unknown> | null {
  const audio = isRecord(session.audio) && isRecord(session.audio.input) ? session.audio.input : {};
  const vad = beta ? session.turn_detection : audio.turn_detection;
  return isRecord(vad) ? vad : null;
}

/** The input transcription model the session names (GA audio.input.transcription, beta input_audio_transcription), else undefined. */
function transcriptionModel(session: Record<string, unknown>, beta: boolean): string | undefined {
  const input = isRecord(session.audio) && isRecord(session.audio.input) ? session.audio.input : {};
  const t = beta ? session.input_audio_transcription : input.transcription;
  return isRecord(t) && typeof t.model === 'string' ? t.model : undefined;
}

/** The input transcription's prompt (the emulator reads `emulator:hang` and `emulator:fail`), else undefined. */
function transcriptionPrompt(session: Record<string, unknown>, beta: boolean): string | undefined {
  const input = isRecord(session.audio) && isRecord(session.audio.input) ? session.audio.input : {};
  const t = beta ? session.input_audio_transcription : input.transcription;
  return isRecord(t) && typeof t.prompt === 'string' ? t.prompt : undefined;
}

/** A session.update applied: objects merged field by field, everything else replaced. */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  const out = { ...into };
  for (const [k, v] of Object.entries(from)) out[k] = isRecord(v) && isRecord(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  return out;
}
