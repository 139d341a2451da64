/** A body read up to a limit: `complete` is false when more bytes followed (they were not read). */
export interface CappedText {
  complete: boolean;
  /** The bytes read, decoded on demand (a body refused for its size is never decoded). */
  text(): string;
}

/**
 * Reads a response body, counting bytes as they arrive, and stops at `limitBytes`: leaving the loop
 * early ends the iterator, which for an undici body destroys it (the connection is dropped, nothing
 * more is read). What was read up to the limit is returned.
 */
export async function readCapped(body: AsyncIterable<Uint8Array>, limitBytes: number): Promise<CappedText> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const text = (): string => Buffer.concat(parts, size).toString('utf8');
  for await (const part of body) {
    if (size + part.length > limitBytes) {
      parts.push(part.subarray(0, limitBytes - size));
      size = limitBytes;
      return { complete: false, text };
    }
    size += part.length;
    parts.push(part);
  }
  return { complete: true, text };
}
