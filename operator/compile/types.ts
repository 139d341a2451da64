import type { Budget } from '../api/budget.js';
import type { DataPolicy } from '../api/data-policy.js';
import type { GuardrailPolicy } from '../api/guardrail-policy.js';
import type { ModelRoute } from '../api/model-route.js';
import type { Provider } from '../api/provider.js';
import type { Snapshot } from '../../dataplane/config/snapshot.js';
import type { EgressAllowlist } from '../../dataplane/config/egress-allowlist.js';

export interface SecretInput {
  namespace: string;
  name: string;
  /** Decoded values. */
  data: Record<string, string>;
  labels?: Record<string, string>;
  /**
   * metadata.creationTimestamp (RFC 3339), set by the API server: of two Secrets holding the same API
   * key the older keeps it. Absent for manifests on disk that carry none.
   */
  createdAt?: string;
}

export interface NamespaceInput {
  name: string;
  labels: Record<string, string>;
}

/** Pod addresses behind one Service port, as resolved from its EndpointSlices. */
export interface ServiceEndpointsInput {
  namespace: string;
  service: string;
  /** The Service port the Provider names. */
  port: number;
  addresses: { ip: string; port: number; ready: boolean }[];
  /** Set when the Service exists but has no such port: the ports it has. */
  servicePorts?: number[];
}

export interface CompileInput {
  providers: Provider[];
  routes: ModelRoute[];
  budgets: Budget[];
  /** Absent: none (nothing is captured). */
  /** Absent: none. */
  dataPolicies?: DataPolicy[];
  guardrails?: GuardrailPolicy[];
  secrets: SecretInput[];
  /** Needed for Selector-based allowedRoutes; a namespace that is absent has no labels. */
  namespaces?: NamespaceInput[];
  endpoints?: ServiceEndpointsInput[];
  /**
   * Namespaces whose Budgets may name subjects in other namespaces (the operator passes its
   * installation namespace). Absent: every namespace may, as for manifests on disk.
   */
  platformNamespaces?: string[];
  /** Bytes the snapshot is kept within (snapshot-budget.ts); absent: what a data plane accepts, less a margin. Tests set it low. */
  snapshotBudgetBytes?: number;
  /** DataPolicy localDirectory destinations are allowed (only `tollgate dev`: in a cluster a pod's disk is no destination). */
  localCaptureDestinations?: boolean;
  /** The installation's key for API key HMACs (see api-key-digest.ts); without it no API key is compiled. */
  apiKeyHashKey?: string;
  /** The platform's egress allowlist (parsed: egress-allowlist.ts); absent: none. URLs it can never reach are refused. */
  egressAllowlist?: EgressAllowlist;
}

export type ObjectKind = 'Provider' | 'ModelRoute' | 'Budget' | 'DataPolicy' | 'GuardrailPolicy';

/** A condition as compile computes it; the controller adds lastTransitionTime. */
export interface ComputedCondition {
  type: 'Accepted' | 'ResolvedRefs' | 'Conflicted' | 'Priced' | 'PassThroughServed';
  /** Unknown: nothing to judge by (Priced of a route none of whose targets resolved). */
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  /** For conditions whose True is the bad state (Conflicted): the Event recorded when the reason changes. */
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

export interface ObjectStatus {
  kind: ObjectKind;
  namespace: string;
  name: string;
  generation?: number;
  conditions: ComputedCondition[];
  /** Ready endpoints, for serviceRef Providers. */
  endpoints?: number;
}

export interface CompileResult {
  snapshot: Snapshot;
  statuses: ObjectStatus[];
  /**
   * API keys (labelled Secrets, which have no status) left out of the snapshot, why, and the Event
   * reason: SnapshotTooLarge (an oversized snapshot), DuplicateApiKey (an older Secret holds the same key).
   */
  leftOutApiKeys?: { namespace: string; name: string; reason: string; message: string }[];
  /**
   * API keys served from the Secret that keeps them while later Secrets hold copies (DuplicateApiKey):
   * the keeper's owner is warned too. `copies` (namespace/name) is for the operator's log only.
   */
  copiedApiKeys?: { namespace: string; name: string; reason: string; message: string; copies: string[] }[];
  /** Set when the snapshot is over what data planes accept even without any tenant's object (snapshot-budget.ts). */
  oversize?: string;
}
