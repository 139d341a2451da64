import { describe, expect, it } from 'vitest';
import { loadManifests } from './manifest-loader.js';

// `tollgate dev` reads manifests from disk with the CRD schemas and their rules: it refuses what
// `kubectl apply` refuses, naming the file and the object.

describe('loadManifests', () => {
  it('refuses a ModelRoute that retries ContextLengthExceeded (each retry would be refused the same way, and billed)', () => {
    const content = `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  targets: [{ providerRef: { name: openai }, model: gpt-4o }]
  retry: { attempts: 3, retryOn: [ServerError, ContextLengthExceeded] }
`;
    const loaded = loadManifests([{ path: 'routes.yaml', content }]);
    expect(loaded.input.routes).toEqual([]);
    expect(loaded.errors).toEqual([
      expect.objectContaining({ file: 'routes.yaml', message: expect.stringContaining('retryOn must not list ContextLengthExceeded') }),
    ]);
  });
});
