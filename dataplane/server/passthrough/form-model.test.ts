import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FormModelRewriter, formImagesBound, modelFormBoundary } from './form-model.js';

/** A form serialized by the platform's own multipart writer (what the openai client sends). */
async function encode(form: FormData): Promise<{ bytes: Buffer; type: string }> {
  const res = new Response(form);
  return { bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '' };
}

async function rewrite(bytes: Buffer, type: string, model: string, piece: number): Promise<{ out: Buffer; named: string[]; inputImages: number }> {
  const boundary = modelFormBoundary('/v1/audio/transcriptions', type);
  if (boundary === undefined) throw new Error('no boundary');
  const rewriter = new FormModelRewriter(boundary, model);
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.subarray(at, at + piece));
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(pieces).pipe(rewriter).on('data', (c: Buffer) => out.push(c)).on('end', resolve).on('error', reject);
    rewriter.on('error', reject);
  });
  return { out: Buffer.concat(out), named: rewriter.named, inputImages: rewriter.inputImages };
}

describe('FormModelRewriter', () => {
  it.each([1, 3, 17, 4096, 1 << 20])('replaces the model field and leaves every other part as it was (pieces of %i bytes)', async (piece) => {
    const audio = randomBytes(50_000);
    const form = new FormData();
    form.append('file', new Blob([audio], { type: 'audio/wav' }), 'a.wav');
    form.append('model', 'gpt-4o-transcribe');
    form.append('language', 'en');
    const { bytes, type } = await encode(form);
    const { out, named } = await rewrite(bytes, type, 'whisper-1', piece);
    expect(named).toEqual(['gpt-4o-transcribe']);
    const parsed = await new Response(out, { headers: { 'content-type': type } }).formData();
    expect(parsed.get('model')).toBe('whisper-1');
    expect(parsed.get('language')).toBe('en');
    const file = parsed.get('file') as File;
    expect(file.name).toBe('a.wav');
    expect(Buffer.from(await file.arrayBuffer()).equals(audio)).toBe(true);
  });

  it("counts an edit form's input images (image, image[], mask), whatever its pieces", async () => {
    const form = new FormData();
    form.append('model', 'gpt-image-1');
    form.append('prompt', 'an image of a mask');
    form.append('image[]', new Blob([randomBytes(3000)]), 'a.png');
    form.append('image[]', new Blob([randomBytes(3000)]), 'b.png');
    form.append('mask', new Blob([randomBytes(3000)]), 'm.png');
    form.append('image', new Blob([randomBytes(10)]), 'c.png');
    const { bytes, type } = await encode(form);
    for (const piece of [1, 7, 1 << 20]) expect((await rewrite(bytes, type, 'gpt-image-1', piece)).inputImages).toBe(4);
  });

  it('bounds the input images a form of a given length can carry, never below what the reader counts in the tightest form', async () => {
    // The shortest image parts the reader still counts: empty masks with the shortest header.
    for (const boundary of ['b', 'x'.repeat(70)]) {
      for (const n of [0, 1, 5, 40]) {
        const bytes = Buffer.from(`${`--${boundary}\r\ncontent-disposition:;name=mask\r\n\r\n\r\n`.repeat(n)}--${boundary}--`, 'latin1');
        const { inputImages } = await rewrite(bytes, `multipart/form-data; boundary=${boundary}`, 'gpt-image-1', 1 << 20);
        expect(inputImages).toBe(n);
        expect(formImagesBound(bytes.length, boundary)).toBeGreaterThanOrEqual(n);
      }
    }
    // A form the openai client builds, with one image: far fewer than the 17 an edit takes.
    const form = new FormData();
    form.append('model', 'gpt-image-1');
    form.append('image[]', new Blob([randomBytes(100)]), 'a.png');
    const { bytes, type } = await encode(form);
    expect(formImagesBound(bytes.length, modelFormBoundary('/v1/images/edits', type) ?? '')).toBeLessThan(10);
  });

  it('rewrites every model field (a second one cannot slip past) and leaves a file named model alone', async () => {
    const form = new FormData();
    form.append('model', 'a');
    form.append('model', new Blob(['not a field']), 'model');
    form.append('model', 'b');
    const { bytes, type } = await encode(form);
    const { out, named } = await rewrite(bytes, type, 'whisper-1', 5);
    expect(named).toEqual(['a', 'b']);
    const values = (await new Response(out, { headers: { 'content-type': type } }).formData()).getAll('model');
    expect(values[0]).toBe('whisper-1');
    expect(await (values[1] as File).text()).toBe('not a field');
    expect(values[2]).toBe('whisper-1');
  });

  it.each([
    ['a form cut before its closing boundary', (b: Buffer) => b.subarray(0, b.length - 10), /ends before its closing boundary/],
    ['part headers without end', (b: Buffer) => Buffer.concat([b.subarray(0, b.indexOf('\r\n') + 2), Buffer.alloc(20_000, 0x61)]), /headers are longer than 16384 bytes/],
    ['a model value of 2 KiB', (b: Buffer) => Buffer.from(b.toString('latin1').replace('gpt-4o-transcribe', 'x'.repeat(2048)), 'latin1'), /model field is longer than 1024 bytes/],
  ])('%s is a 400', async (_name, damage, message) => {
    const form = new FormData();
    form.append('model', 'gpt-4o-transcribe');
    form.append('file', new Blob(['abc']), 'a.wav');
    const { bytes, type } = await encode(form);
    const err = await rewrite(damage(bytes), type, 'whisper-1', 1000).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', message });
  });

  it('applies to the upload paths that name a model, and a multipart body without a boundary is a 400', () => {
    expect(modelFormBoundary('/v1/images/edits', 'multipart/form-data; boundary="a b"')).toBe('a b');
    expect(modelFormBoundary('/v1/files', 'multipart/form-data; boundary=x')).toBeUndefined();
    expect(modelFormBoundary('/v1/audio/translations', 'application/json')).toBeUndefined();
    expect(() => modelFormBoundary('/v1/audio/translations', 'multipart/form-data')).toThrow(/no boundary/);
  });
});
