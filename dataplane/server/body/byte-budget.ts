/**
 * A counting semaphore on bytes, shared by every request of the process: a request takes bytes as
 * its body arrives and gives them back when its response has closed. Nothing waits: a request that
 * does not fit is refused at once, which is what keeps the total bounded under a flood.
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
