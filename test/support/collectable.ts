import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A context made after the flag is set has V8's gc(); the test process needs no --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Whether nothing keeps these objects alive any more: a full GC, then their weak references. Waits a
 * task first, since a WeakRef made in the current one keeps its target until that task ends.
 */
export async function collected(refs: WeakRef<object>[]): Promise<boolean[]> {
  await sleep(0);
  gc();
  return refs.map((r) => r.deref() === undefined);
}
