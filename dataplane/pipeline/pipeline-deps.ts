import type { Transport } from '../upstream/transport.js';
import type { Authenticator } from '../governance/identity/authenticator.js';
import type { Admitter, ResponseCache } from '../governance/types.js';
import type { UsageSink } from '../metering/usage-record.js';
import type { Router } from '../routing/router.js';
import type { CaptureService } from '../policy/capture/capture-service.js';

/** What the stages are built from (one set per data plane). */
export interface PipelineDeps {
  router: Router;
  usage: UsageSink;
  /** Caller identity and route access; absent = every caller is anonymous and every route open (`tollgate dev`). */
  auth?: Authenticator;
  /** Rate limits: checked first; a cache hit still counts as a request. */
  rateLimiter?: Admitter;
  /** Response cache for routes that enable it. */
  cache?: ResponseCache;
  /** Budget admission (after rate limits and the cache: a cache hit costs nothing). */
  admitters?: readonly Admitter[];
  /** HTTP to guardrail webhooks and moderation Providers; absent = no guardrail stage. */
  transport?: Transport;
  /** DataPolicy capture (the data plane applies each snapshot's policies to it); absent = no capture stage. */
  capture?: CaptureService;
}
