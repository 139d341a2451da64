import type { PathForwarding } from '../types.js';
import { azureAuthHeaders, azureDeployment, DEFAULT_API_VERSION } from './azure-openai-adapter.js';

/**
 * OpenAI paths → Azure OpenAI's: images and audio under the deployment, files and batches under the
 * resource, Realtime with the deployment in the query (all with `api-version`), stored responses and
 * the account's other objects in the v1 API (no `api-version`, where POST /responses goes too).
 */
const PATHS: readonly [RegExp, (m: RegExpMatchArray, deployment: string) => string, 'versioned' | 'v1'][] = [
  [/^\/v1\/images\/(generations|edits)$/, (m, d) => `/openai/deployments/${d}/images/${m[1] ?? ''}`, 'versioned'],
  [/^\/v1\/audio\/(transcriptions|translations|speech)$/, (m, d) => `/openai/deployments/${d}/audio/${m[1] ?? ''}`, 'versioned'],
  [/^\/v1\/(files|batches)((?:\/[^/]+)*)$/, (m) => `/openai/${m[1] ?? ''}${m[2] ?? ''}`, 'versioned'],
  [/^\/v1\/realtime$/, () => '/openai/realtime', 'versioned'],
  [/^\/v1\/(responses\/.+)$/, (m) => `/openai/v1/${m[1] ?? ''}`, 'v1'],
  // The account's objects, in the v1 API as OpenAI's paths are (vector stores, uploads,
  // conversations, containers, fine-tuning jobs, evals; Sora 2 videos, generated and remixed).
  [/^\/v1\/((vector_stores|uploads|conversations|containers|evals|fine_tuning\/jobs)(\/.*)?)$/, (m) => `/openai/v1/${m[1] ?? ''}`, 'v1'],
  [/^\/v1\/(videos(\/(?!edits$|extensions$|characters(\/|$))[^/]+(\/(content|remix))?)?)$/, (m) => `/openai/v1/${m[1] ?? ''}`, 'v1'],
];

const FINE_TUNING_JOBS = '/v1/fine_tuning/jobs';

/**
 * Azure OpenAI serves images, audio, files, batches, Realtime, stored responses, vector stores,
 * uploads, conversations, containers, fine-tuning jobs, evals and Sora 2 videos (not moderations,
 * video edits, extensions and characters, nor vLLM's endpoints): `{resource}/openai/deployments/{deployment}/…` or `{resource}/openai/…`,
 * with the Provider's `api-version` (the v1 API takes none), and the `api-key` header (Bearer for Entra tokens).
 */
export const azurePathForwarding: PathForwarding = {
  url(path, query, target) {
    for (const [re, to, api] of PATHS) {
      const m = re.exec(path);
      if (m === null) continue;
      const deployment = azureDeployment(target);
      const url = new URL(`${target.baseUrl.replace(/\/+$/, '')}${to(m, encodeURIComponent(deployment))}`);
      // The model a client names is the gateway's; Azure addresses the deployment instead.
      for (const [k, v] of query) if (k !== 'model' && k !== 'api-version' && k !== 'deployment') url.searchParams.append(k, v);
      if (api === 'versioned') url.searchParams.set('api-version', target.settings?.azure?.apiVersion ?? DEFAULT_API_VERSION);
      if (path === '/v1/realtime') {
        url.searchParams.set('deployment', deployment);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      }
      return url;
    }
    return undefined;
  },
  // The v1 API takes OpenAI's bodies, whose model is the deployment (a video's form, a compaction);
  // the deployment paths name it in the URL, and their bodies keep the target's model as before.
  // A fine-tuning job names the base model it trains (`gpt-4.1-mini-2025-04-14`), not a
  // deployment (Azure fine-tunes a base model; its result is deployed after): the target's model,
  // the Provider model's name. Before, the deployment went, which Azure does not fine-tune.
  bodyModel: (path, target) => (path !== FINE_TUNING_JOBS && PATHS.find(([re]) => re.test(path))?.[2] === 'v1' ? azureDeployment(target) : target.model),
  // A global batch's lines name the deployment that runs them (Azure's batch input format).
  batchModel: (target) => azureDeployment(target),
  headers: (target) => ({ ...target.headers, ...azureAuthHeaders(target) }),
};
