import type { Response } from 'express';
import type { RuntimeSnapshot } from '../runtime/runtime-snapshot.js';
import type { Caller } from '../core/caller.js';

/** The caller, authenticated from the request's headers before its body was read, and the snapshot that did it. */
export interface EarlyIdentity {
  runtime: RuntimeSnapshot;
  caller: Caller;
}

interface Locals {
  identity?: EarlyIdentity;
}

export function earlyIdentity(res: Response): EarlyIdentity | undefined {
  return (res.locals as Locals).identity;
}

export function setEarlyIdentity(res: Response, identity: EarlyIdentity): void {
  (res.locals as Locals).identity = identity;
}
