import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProviderConfigSchema } from '../../dataplane/config/snapshot.js';
import type { CanonicalRequest, JsonObject, UpstreamHttpRequest } from '../../dataplane/core/canonical.js';
import { adapterTarget, runtimeProvider } from '../../dataplane/providers/registry.js';
import { RequestTranslationError } from '../../dataplane/providers/types.js';
import type { Transport } from '../../dataplane/upstream/transport.js';
import { expectGolden, readJson } from '../support/golden.js';

// Golden files: canonical request → provider request, per provider type (one folder each, named as
// the folder in dataplane/providers/): test/fixtures/provider-request/<type>/<case>.in.json →
// <case>.out.json. Regenerate with UPDATE_GOLDEN=1 (test/README.md). Credentials in the inputs are fake.
const root = 'test/fixtures/provider-request';

interface GoldenInput {
  /** The provider as the snapshot carries it (credentials in clear, as on the wire). */
  provider: unknown;
  baseUrl: string;
  model: string;
  /** The attempt's clock, for request signing. */
  nowMs: number;
  /** A bearer token as a token source would have minted it. */
  accessToken?: string;
  request: CanonicalRequest;
}

const noHttp: Transport = {
  send: () => Promise.reject(new Error('golden tests send nothing')),
};

/** The request as sent, with a JSON body shown as JSON when that loses nothing (the adapter wrote it compact). */
function shown(req: UpstreamHttpRequest): JsonObject {
  let body: unknown = req.body;
  try {
    const parsed: unknown = JSON.parse(req.body);
    if (JSON.stringify(parsed) === req.body) body = parsed;
  } catch {
    // not JSON: shown as the string it is
  }
  return { method: req.method, url: req.url, headers: req.headers, body };
}

function build(input: GoldenInput): JsonObject {
  const provider = runtimeProvider(ProviderConfigSchema.parse(input.provider), noHttp);
  try {
    return shown(provider.adapter.buildRequest(input.request, adapterTarget(provider, input.baseUrl, input.model, input.nowMs, input.accessToken)));
  } catch (err) {
    if (!(err instanceof RequestTranslationError)) throw err;
    return { translationError: { message: err.message, param: err.param } };
  }
}

const providerFolders = readdirSync('dataplane/providers', { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'shared')
  .map((e) => e.name);
const cases = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .flatMap((dir) =>
    readdirSync(join(root, dir.name))
      .filter((f) => f.endsWith('.in.json'))
      .map((f) => ({ type: dir.name, name: f.replace(/\.in\.json$/, '') })),
  );

describe('canonical request → provider request (golden files)', () => {
  it('has cases for every provider folder', () => {
    expect(providerFolders.filter((p) => !cases.some((c) => c.type === p))).toEqual([]);
  });

  it.each(cases)('$type/$name', ({ type, name }) => {
    const input = readJson(join(root, type, `${name}.in.json`)) as GoldenInput;
    expect((input.provider as { type: string }).type).toBe(type);
    expectGolden(join(root, type, `${name}.out.json`), build(input));
  });
});
