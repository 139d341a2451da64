import type { ServerResponse } from 'node:http';

// The objects an OpenAI account keeps, as OpenAI's API serves them (the shapes of the openai
// package's types, its list pages, its errors): vector stores (files, file batches, search),
// uploads (parts as multipart forms, completed into a file), conversations (items), videos
// (multipart generations, remixes, content bytes), containers (files uploaded as forms),
// fine-tuning jobs (events, cancel) and evals (runs). Stateful: what a test creates it can read.

export interface ObjectRequest {
  method: string;
  url: string;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
  form?: FormData;
}

type Json = Record<string, unknown>;
type Send = (res: ServerResponse, status: number, body: unknown) => void;

const NOW = 1_700_000_000;

export class ObjectStore {
  private seq = 0;
  readonly vectorStores = new Map<string, Json>();
  readonly vectorStoreFiles = new Map<string, Json[]>();
  readonly uploads = new Map<string, Json & { parts: number[] }>();
  readonly parts = new Map<string, number>();
  readonly conversations = new Map<string, Json>();
  readonly items = new Map<string, Json[]>();
  readonly videos = new Map<string, Json>();
  readonly containers = new Map<string, Json>();
  readonly containerFiles = new Map<string, { meta: Json; bytes: Buffer }>();
  readonly jobs = new Map<string, Json>();
  readonly evals = new Map<string, Json>();
  readonly runs = new Map<string, Json[]>();

  id(prefix: string): string {
    this.seq++;
    return `${prefix}${String(this.seq).padStart(6, '0')}`;
  }
}

const list = (data: Json[]): Json => ({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
const notFound = (what: string, id: string): Json => ({ error: { message: `No ${what} found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } });
const invalid = (message: string, param: string | null, code: string | null = null): Json => ({ error: { message, type: 'invalid_request_error', param, code } });

async function formOf(req: ObjectRequest): Promise<FormData> {
  return new Response(req.body, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
}

function jsonBody(req: ObjectRequest): Json {
  return req.body.length === 0 ? {} : (JSON.parse(req.body.toString('utf8')) as Json);
}

const fileCounts = (completed: number): Json => ({ in_progress: 0, completed, failed: 0, cancelled: 0, total: completed });

/** Answers a request to one of the account's objects; false when the path is none of theirs (the caller answers it). */
export async function answerObjects(store: ObjectStore, req: ObjectRequest, res: ServerResponse, send: Send): Promise<boolean> {
  const path = req.url.split('?')[0] ?? '';
  const parts = path.split('/').slice(1);
  if (parts[0] !== 'v1') return false;
  const [, collection, id, sub, subId, leaf] = parts;
  const m = req.method;

  switch (collection) {
    case 'vector_stores': {
      if (id === undefined) {
        if (m === 'POST') {
          const b = jsonBody(req);
          const files = Array.isArray(b.file_ids) ? (b.file_ids as string[]) : [];
          const vs: Json = { id: store.id('vs_'), object: 'vector_store', created_at: NOW, name: b.name ?? null, usage_bytes: 0, file_counts: fileCounts(files.length), status: 'completed', expires_after: b.expires_after ?? null, expires_at: null, last_active_at: NOW, metadata: b.metadata ?? null };
          store.vectorStores.set(String(vs.id), vs);
          store.vectorStoreFiles.set(String(vs.id), files.map((f) => ({ id: f, object: 'vector_store.file', usage_bytes: 100, created_at: NOW, vector_store_id: vs.id, status: 'completed', last_error: null })));
          send(res, 200, vs);
        } else send(res, 200, list([...store.vectorStores.values()]));
        return true;
      }
      const vs = store.vectorStores.get(id);
      if (vs === undefined) return send(res, 404, notFound('vector store', id)), true;
      const files = store.vectorStoreFiles.get(id) ?? [];
      if (sub === undefined) {
        if (m === 'GET') send(res, 200, vs);
        else if (m === 'POST') send(res, 200, Object.assign(vs, jsonBody(req)));
        else {
          store.vectorStores.delete(id);
          send(res, 200, { id, object: 'vector_store.deleted', deleted: true });
        }
        return true;
      }
      if (sub === 'search' && m === 'POST') {
        const b = jsonBody(req);
        if (typeof b.query !== 'string' && !Array.isArray(b.query)) return send(res, 400, invalid("Missing required parameter: 'query'.", 'query', 'missing_required_parameter')), true;
        const data = files.map((f, i) => ({ file_id: f.id, filename: `${String(f.id)}.txt`, score: 1 - i / 10, attributes: {}, content: [{ type: 'text', text: `text of ${String(f.id)} about ${String(b.query)}` }] }));
        send(res, 200, { object: 'vector_store.search_results.page', search_query: [b.query].flat(), data, has_more: false, next_page: null });
        return true;
      }
      if (sub === 'files') {
        if (subId === undefined) {
          if (m === 'POST') {
            const b = jsonBody(req);
            const f: Json = { id: b.file_id, object: 'vector_store.file', usage_bytes: 100, created_at: NOW, vector_store_id: id, status: 'completed', last_error: null, attributes: b.attributes ?? null };
            files.push(f);
            store.vectorStoreFiles.set(id, files);
            send(res, 200, f);
          } else send(res, 200, list(files));
          return true;
        }
        const f = files.find((x) => x.id === subId);
        if (f === undefined) return send(res, 404, notFound('file', subId)), true;
        if (leaf === 'content') send(res, 200, { object: 'vector_store.file_content.page', data: [{ type: 'text', text: `content of ${subId}` }], has_more: false, next_page: null });
        else if (m === 'DELETE') {
          store.vectorStoreFiles.set(id, files.filter((x) => x !== f));
          send(res, 200, { id: subId, object: 'vector_store.file.deleted', deleted: true });
        } else send(res, 200, f);
        return true;
      }
      if (sub === 'file_batches') {
        const batch = (fileIds: string[]): Json => ({ id: subId ?? store.id('vsfb_'), object: 'vector_store.files_batch', created_at: NOW, vector_store_id: id, status: leaf === 'cancel' ? 'cancelled' : 'completed', file_counts: fileCounts(fileIds.length) });
        if (subId === undefined && m === 'POST') {
          const ids = (jsonBody(req).file_ids as string[] | undefined) ?? [];
          for (const f of ids) files.push({ id: f, object: 'vector_store.file', usage_bytes: 100, created_at: NOW, vector_store_id: id, status: 'completed', last_error: null });
          send(res, 200, batch(ids));
        } else if (leaf === 'files') send(res, 200, list(files));
        else send(res, 200, batch(files.map((f) => String(f.id))));
        return true;
      }
      return false;
    }

    case 'uploads': {
      if (id === undefined && m === 'POST') {
        const b = jsonBody(req);
        for (const field of ['bytes', 'filename', 'mime_type', 'purpose']) if (b[field] === undefined) return send(res, 400, invalid(`Missing required parameter: '${field}'.`, field, 'missing_required_parameter')), true;
        const upload = { id: store.id('upload_'), object: 'upload', bytes: b.bytes, created_at: NOW, filename: b.filename, purpose: b.purpose, status: 'pending', expires_at: NOW + 3600, file: null, parts: [] as number[] };
        store.uploads.set(upload.id, upload);
        const { parts: _parts, ...shown } = upload;
        send(res, 200, shown);
        return true;
      }
      const upload = id === undefined ? undefined : store.uploads.get(id);
      if (upload === undefined || id === undefined) return send(res, 404, notFound('upload', id ?? '')), true;
      const shown = (): Json => {
        const { parts: _parts, ...rest } = upload;
        return rest;
      };
      if (sub === 'parts') {
        // A part is a multipart form with one `data` field (at most 64 MB).
        req.form = await formOf(req);
        const data = req.form.get('data');
        if (!(data instanceof File)) return send(res, 400, invalid("Missing required parameter: 'data'.", 'data', 'missing_required_parameter')), true;
        const part = store.id('part_');
        store.parts.set(part, data.size);
        upload.parts.push(data.size);
        send(res, 200, { id: part, object: 'upload.part', created_at: NOW, upload_id: id });
        return true;
      }
      if (sub === 'complete') {
        const ids = (jsonBody(req).part_ids as string[] | undefined) ?? [];
        const bytes = ids.reduce((n, p) => n + (store.parts.get(p) ?? 0), 0);
        if (bytes !== upload.bytes) return send(res, 400, invalid(`The number of bytes uploaded (${bytes}) does not match the number of bytes specified when creating the Upload (${String(upload.bytes)}).`, null)), true;
        upload.status = 'completed';
        upload.file = { id: store.id('file-'), object: 'file', bytes, created_at: NOW, filename: upload.filename, purpose: upload.purpose, status: 'processed' };
        send(res, 200, shown());
        return true;
      }
      if (sub === 'cancel') {
        upload.status = 'cancelled';
        send(res, 200, shown());
        return true;
      }
      return false;
    }

    case 'conversations': {
      const withIds = (items: unknown): Json[] => (Array.isArray(items) ? (items as Json[]) : []).map((it) => ({ id: store.id('msg_'), status: 'completed', ...it }));
      if (id === undefined && m === 'POST') {
        const b = jsonBody(req);
        const conv: Json = { id: store.id('conv_'), object: 'conversation', created_at: NOW, metadata: b.metadata ?? null };
        store.conversations.set(String(conv.id), conv);
        store.items.set(String(conv.id), withIds(b.items));
        send(res, 200, conv);
        return true;
      }
      const conv = id === undefined ? undefined : store.conversations.get(id);
      if (conv === undefined || id === undefined) return send(res, 404, notFound('conversation', id ?? '')), true;
      const items = store.items.get(id) ?? [];
      if (sub === undefined) {
        if (m === 'GET') send(res, 200, conv);
        else if (m === 'POST') send(res, 200, Object.assign(conv, { metadata: jsonBody(req).metadata ?? null }));
        else {
          store.conversations.delete(id);
          send(res, 200, { id, object: 'conversation.deleted', deleted: true });
        }
        return true;
      }
      if (sub === 'items') {
        if (subId === undefined) {
          if (m === 'POST') {
            const added = withIds(jsonBody(req).items);
            items.push(...added);
            store.items.set(id, items);
            send(res, 200, list(added));
          } else send(res, 200, list(items));
          return true;
        }
        const item = items.find((x) => x.id === subId);
        if (item === undefined) return send(res, 404, notFound('item', subId)), true;
        if (m === 'DELETE') {
          store.items.set(id, items.filter((x) => x !== item));
          send(res, 200, conv);
        } else send(res, 200, item);
        return true;
      }
      return false;
    }

    case 'videos': {
      const video = (fields: Json): Json => ({ id: store.id('video_'), object: 'video', created_at: NOW, status: 'queued', progress: 0, completed_at: null, expires_at: null, error: null, remixed_from_video_id: null, prompt: null, ...fields });
      if (id === undefined) {
        if (m === 'GET') return send(res, 200, list([...store.videos.values()])), true;
        // The openai client always sends a generation as a multipart form.
        req.form = await formOf(req);
        const seconds = String(req.form.get('seconds') ?? '4');
        if (!['4', '8', '12'].includes(seconds)) return send(res, 400, invalid(`Invalid value: '${seconds}'. Supported values are: '4', '8', and '12'.`, 'seconds', 'invalid_value')), true;
        const v = video({ model: String(req.form.get('model') ?? 'sora-2'), seconds, size: String(req.form.get('size') ?? '720x1280'), prompt: String(req.form.get('prompt')) });
        store.videos.set(String(v.id), v);
        send(res, 200, v);
        return true;
      }
      const v = store.videos.get(id);
      if (v === undefined) return send(res, 404, notFound('video', id)), true;
      if (sub === undefined) {
        if (m === 'DELETE') {
          store.videos.delete(id);
          send(res, 200, { id, object: 'video.deleted', deleted: true });
        } else send(res, 200, v);
        return true;
      }
      if (sub === 'content') {
        res.writeHead(200, { 'content-type': 'video/mp4', 'x-request-id': 'req_upstream' });
        res.end(Buffer.from(`mp4 of ${id}`));
        return true;
      }
      if (sub === 'remix' && m === 'POST') {
        const r = video({ model: v.model, seconds: v.seconds, size: v.size, prompt: jsonBody(req).prompt, remixed_from_video_id: id });
        store.videos.set(String(r.id), r);
        send(res, 200, r);
        return true;
      }
      return false;
    }

    case 'containers': {
      if (id === undefined) {
        if (m === 'POST') {
          const b = jsonBody(req);
          if (typeof b.name !== 'string') return send(res, 400, invalid("Missing required parameter: 'name'.", 'name', 'missing_required_parameter')), true;
          const c: Json = { id: store.id('cntr_'), object: 'container', created_at: NOW, status: 'running', name: b.name, expires_after: { anchor: 'last_active_at', minutes: 20 }, last_active_at: NOW, memory_limit: b.memory_limit ?? '1g' };
          store.containers.set(String(c.id), c);
          send(res, 200, c);
        } else send(res, 200, list([...store.containers.values()]));
        return true;
      }
      const c = store.containers.get(id);
      if (c === undefined) return send(res, 404, notFound('container', id)), true;
      if (sub === undefined) {
        if (m === 'DELETE') {
          store.containers.delete(id);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end();
        } else send(res, 200, c);
        return true;
      }
      if (sub === 'files') {
        if (subId === undefined) {
          if (m === 'POST') {
            req.form = await formOf(req);
            const file = req.form.get('file');
            if (!(file instanceof File)) return send(res, 400, invalid("Missing required parameter: 'file'.", 'file', 'missing_required_parameter')), true;
            const meta: Json = { id: store.id('cfile_'), object: 'container.file', bytes: file.size, container_id: id, created_at: NOW, path: `/mnt/data/${file.name}`, source: 'user' };
            store.containerFiles.set(String(meta.id), { meta, bytes: Buffer.from(await file.arrayBuffer()) });
            send(res, 200, meta);
          } else send(res, 200, list([...store.containerFiles.values()].filter((f) => f.meta.container_id === id).map((f) => f.meta)));
          return true;
        }
        const f = store.containerFiles.get(subId);
        if (f === undefined) return send(res, 404, notFound('file', subId)), true;
        if (leaf === 'content') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(f.bytes);
        } else send(res, 200, f.meta);
        return true;
      }
      return false;
    }

    case 'fine_tuning': {
      // /v1/fine_tuning/jobs[/{id}[/events|cancel|checkpoints|pause|resume]]
      const [jobId, action] = [sub, subId];
      if (id !== 'jobs') return false;
      if (jobId === undefined) {
        if (m === 'POST') {
          const b = jsonBody(req);
          if (typeof b.training_file !== 'string') return send(res, 400, invalid("Missing required parameter: 'training_file'.", 'training_file', 'missing_required_parameter')), true;
          const job: Json = { id: store.id('ftjob-'), object: 'fine_tuning.job', created_at: NOW, model: b.model, training_file: b.training_file, validation_file: b.validation_file ?? null, status: 'validating_files', fine_tuned_model: null, finished_at: null, hyperparameters: { n_epochs: 'auto', batch_size: 'auto', learning_rate_multiplier: 'auto' }, organization_id: 'org-emulator', result_files: [], seed: 42, trained_tokens: null, error: null, metadata: b.metadata ?? null };
          store.jobs.set(String(job.id), job);
          send(res, 200, job);
        } else send(res, 200, list([...store.jobs.values()]));
        return true;
      }
      const job = store.jobs.get(jobId);
      if (job === undefined) return send(res, 404, notFound('fine-tuning job', jobId)), true;
      if (action === undefined) send(res, 200, job);
      else if (action === 'events') send(res, 200, list([{ id: 'ftevent-1', object: 'fine_tuning.job.event', created_at: NOW, level: 'info', message: 'Validating training file', type: 'message' }]));
      else if (action === 'checkpoints') send(res, 200, list([]));
      else if (action === 'cancel') send(res, 200, Object.assign(job, { status: 'cancelled' }));
      else if (action === 'pause') send(res, 200, Object.assign(job, { status: 'paused' }));
      else if (action === 'resume') send(res, 200, Object.assign(job, { status: 'running' }));
      else return false;
      return true;
    }

    case 'evals': {
      if (id === undefined) {
        if (m === 'POST') {
          const b = jsonBody(req);
          const ev: Json = { id: store.id('eval_'), object: 'eval', created_at: NOW, name: b.name ?? null, data_source_config: b.data_source_config, testing_criteria: b.testing_criteria ?? [], metadata: b.metadata ?? null };
          store.evals.set(String(ev.id), ev);
          send(res, 200, ev);
        } else send(res, 200, list([...store.evals.values()]));
        return true;
      }
      const ev = store.evals.get(id);
      if (ev === undefined) return send(res, 404, notFound('eval', id)), true;
      const runs = store.runs.get(id) ?? [];
      if (sub === undefined) {
        if (m === 'DELETE') {
          store.evals.delete(id);
          send(res, 200, { eval_id: id, object: 'eval.deleted', deleted: true });
        } else send(res, 200, ev);
        return true;
      }
      if (sub === 'runs') {
        if (subId === undefined && m === 'POST') {
          const b = jsonBody(req);
          const run: Json = { id: store.id('evalrun_'), object: 'eval.run', created_at: NOW, eval_id: id, name: b.name ?? null, status: 'queued', data_source: b.data_source, model: null, error: null, metadata: null, per_model_usage: [], per_testing_criteria_results: [], report_url: 'https://emulator/evals', result_counts: { errored: 0, failed: 0, passed: 0, total: 0 } };
          runs.push(run);
          store.runs.set(id, runs);
          send(res, 200, run);
        } else if (subId === undefined) send(res, 200, list(runs));
        else {
          const run = runs.find((r) => r.id === subId);
          if (run === undefined) return send(res, 404, notFound('eval run', subId)), true;
          send(res, 200, run);
        }
        return true;
      }
      return false;
    }

    default:
      return false;
  }
}
