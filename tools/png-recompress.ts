// Lossless re-encoding of a Chromium screenshot (8-bit RGB or RGBA, not interlaced): every row
// unfiltered, then stored with filter None and deflated at level 9. Chromium's own encoding favours
// speed with Up/Paeth filters; flat UI areas and repeated glyphs compress better unfiltered (the
// console's before/after view: 172 → 145 KiB).
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Rewrites the PNG at `path` smaller, pixel for pixel the same; returns its new size in bytes. */
export function recompressPng(path: string): number {
  const png = readFileSync(path);
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${path} is not a PNG`);
  const kept: Buffer[] = [];
  const idat: Buffer[] = [];
  let ihdr: Buffer | undefined;
  for (let off = 8; off < png.length; ) {
    const length = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + length);
    off += 12 + length;
    if (type === 'IHDR') ihdr = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type !== 'IEND') kept.push(chunk(type, data));
  }
  if (ihdr === undefined) throw new Error(`${path} has no IHDR`);
  const [width, height, depth, colour, interlace] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[12]];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`${path}: only 8-bit RGB(A) without interlace`);
  const bpp = colour === 6 ? 4 : 3;
  const stride = width * bpp;
  const filtered = inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const filter = filtered[y * (stride + 1)];
    const row = out.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const above = y > 0 ? out.subarray((y - 1) * (stride + 1) + 1, y * (stride + 1)) : undefined;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (row[x - bpp] ?? 0) : 0;
      const b = above?.[x] ?? 0;
      const c = x >= bpp ? (above?.[x - bpp] ?? 0) : 0;
      const predictor = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : 0;
      row[x] = ((filtered[y * (stride + 1) + 1 + x] ?? 0) + predictor) & 0xff;
    }
  }
  // Each row's filter byte stays 0 (None): `out` holds the raw pixels.
  const result = Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...kept, chunk('IDAT', deflateSync(out, { level: 9, memLevel: 9 })), chunk('IEND', Buffer.alloc(0))]);
  if (result.length < png.length) writeFileSync(path, result);
  return Math.min(result.length, png.length);
}
