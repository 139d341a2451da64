import type { PathForwarding } from '../types.js';

/**
 * OpenAI's own paths, as OpenAI, OpenAI-compatible servers and vLLM serve them: under the base URL
 * (which ends in /v1), vLLM's /tokenize and /detokenize at its root, Realtime at `<base>/realtime`
 * over ws(s); the Provider's key as a Bearer token.
 */
export const openAiPathForwarding: PathForwarding = {
  url(path, query, target) {
    const base = target.baseUrl.replace(/\/+$/, '');
    const url = new URL(path.startsWith('/v1/') ? `${base}${path.slice('/v1'.length)}` : `${base.replace(/\/v1$/, '')}${path}`);
    for (const [k, v] of query) url.searchParams.append(k, v);
    if (path === '/v1/realtime') {
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      // A session names its model at the connection: the client may have chosen the route by the
      // x-tollgate-model header (or the single Realtime route), and the upstream needs the target's.
      // A side-band connection to an existing call (call_id) has its model already.
      if (!url.searchParams.has('call_id')) url.searchParams.set('model', target.model);
    } else if (url.searchParams.has('model')) url.searchParams.set('model', target.model);
    return url;
  },
  headers(target) {
    const key = target.apiKey;
    return key === undefined || key === '' ? { ...target.headers } : { ...target.headers, authorization: `Bearer ${key}` };
  },
};
