import type { z } from 'zod';
import type { PassThroughEndpoint } from './pass-through-endpoints.js';

/**
 * What one provider type adds to the snapshot contract. Each type declares it in its own folder
 * (`dataplane/providers/<name>/contract.ts`: zod and config/ only, no runtime code) and
 * `providers/contracts.ts` composes them into the types, settings blocks and default URLs that
 * `snapshot.ts` exports, so the operator, which may import nothing of the data plane but config/,
 * builds and checks every type's settings without a list of its own.
 */
export interface ProviderContract {
  /** The Provider's `type`. */
  readonly type: string;
  /** Its settings blocks on ProviderConfig, by key, each optional there (a type may have none). */
  readonly settings: Readonly<Record<string, z.ZodOptional>>;
  /** The settings block a provider of this type cannot work without (checked on load); null: none. */
  readonly requires: string | null;
  /**
   * The public endpoint of a hosted provider configured with neither url nor Service, from its
   * settings blocks; absent or undefined: it has none (the Provider must name one).
   */
  defaultBaseUrl?(settings: Record<string, unknown>): string | undefined;
  /**
   * The pass-through endpoints (spec.passThrough.endpoints) its upstream serves untranslated; absent:
   * none. The operator says when a route lists one no target serves; the registry's forwarding
   * must serve a path of each (dataplane/server/passthrough/passthrough.test.ts checks it).
   */
  readonly passThrough?: readonly PassThroughEndpoint[];
}
