/**
 * The last `keep` characters of a text that arrives in pieces: held as the pieces, joined and cut
 * back to `keep` when they reach twice that, so each character is copied a bounded number of times.
 * Where usage sits in an answer too large to hold (after the images).
 */
export class KeptTail {
  private pieces: string[] = [];
  private length = 0;

  constructor(private readonly keep: number) {}

  add(piece: string): void {
    this.pieces.push(piece);
    this.length += piece.length;
    if (this.length > 2 * this.keep) this.compact();
  }

  /** The last `keep` characters added. */
  text(): string {
    this.compact();
    return this.pieces[0] ?? '';
  }

  clear(): void {
    this.pieces = [];
    this.length = 0;
  }

  private compact(): void {
    const end = this.pieces.join('').slice(-this.keep);
    this.pieces = [end];
    this.length = end.length;
  }
}
