import { compile } from '../../operator/compile/compile.js';
import type { Snapshot } from '../../dataplane/config/snapshot.js';
import { provider, route } from './objects.js';

/** A compiled snapshot of one route serving `model` from a mock Provider (admin-port tests push it). */
export function mockRouteSnapshot(model: string): Snapshot {
  return compile({
    providers: [provider('mock', { type: 'mock' })],
    routes: [route('r', { model, targets: [{ providerRef: { name: 'mock' }, model: 'm' }] })],
    budgets: [],
    secrets: [],
  }).snapshot;
}
