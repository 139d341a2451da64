/**
 * A counting semaphore on bytes, shared by every request of the process: a request takes bytes as
 * its body arrives (or a large upstream answer as it is read) and gives them back once they are no
 * longer held. Nothing waits: what does not fit is refused at once, which is what keeps the total
 * bounded under a flood.
 */
export class ByteBudget {
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Would `bytes` fit now (without taking them)? */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity;
  }

  tryTake(bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/**
 * Gives `bytes` back to `budget` once, however often it is called. Made only for what actually
 * holds bytes (a large upstream answer): it captures nothing else, so that holding it keeps no
 * buffer alive.
 */
export function heldBytes(budget: ByteBudget, bytes: number): () => void {
  let left = bytes;
  return () => {
    budget.give(left);
    left = 0;
  };
}
