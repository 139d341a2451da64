import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../operator/tls/certificates.js';
import { followCaFile, followTlsFiles, readCaFile, readTlsFiles, type TlsPair } from './tls-files.js';

// The followers apart from a server: what they hand over, and what they log, as files change.

const dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stops: (() => void)[] = [];
afterAll(() => {
  for (const stop of stops) stop();
});

/** Replaced at once, as the kubelet swaps a Secret volume's files. */
const write = (file: string, text: string): void => {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
};

function recorder() {
  const info: string[] = [];
  const warn: string[] = [];
  return {
    info,
    warn,
    log: {
      info: (_obj: object, msg: string) => void info.push(msg),
      warn: (obj: object, msg: string) => void warn.push(`${msg}: ${(obj as { err?: string }).err ?? ''}`),
    },
  };
}

/** Enough intervals of 10 ms that the follower has read the file again several times. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

describe('followTlsFiles', () => {
  it('applies a renewed pair once, and keeps serving the previous one while a file is missing', async () => {
    const ca = createCa('tls-files-pair', 30);
    const [one, two] = [issueCertificate(ca, 'a', ['a'], 10), issueCertificate(ca, 'a', ['a'], 10)];
    const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), intervalMs: 10 };
    write(files.cert, one.cert);
    write(files.key, one.key);
    const applied: TlsPair[] = [];
    const r = recorder();
    stops.push(followTlsFiles({ ...readTlsFiles(files), files }, (pair) => void applied.push(pair), r.log));
    await settle();
    expect(applied).toEqual([]);
    write(files.key, two.key);
    write(files.cert, two.cert);
    await expect.poll(() => applied.length, { timeout: 5_000, interval: 10 }).toBe(1);
    expect(applied[0]).toEqual({ cert: two.cert, key: two.key });
    rmSync(files.key);
    await expect.poll(() => r.warn.length, { timeout: 5_000, interval: 10 }).toBe(1);
    expect(r.warn[0]).toMatch(/^TLS certificate files not applied; still serving the previous certificate: .*ENOENT/);
    write(files.key, two.key);
    await settle();
    expect(applied).toHaveLength(1);
  });

  // One warning per failure, not one a minute while it lasts; but a file that came back and goes
  // again is a failure of its own: it was not said, because the first one's message was still
  // remembered when the file came back unchanged.
  it('warns again when a file that came back unchanged goes missing again', async () => {
    const ca = createCa('tls-files-gone', 30);
    const pair = issueCertificate(ca, 'a', ['a'], 10);
    const files = { cert: join(dir, 'gone.crt'), key: join(dir, 'gone.key'), intervalMs: 10 };
    write(files.cert, pair.cert);
    write(files.key, pair.key);
    const r = recorder();
    stops.push(followTlsFiles({ ...readTlsFiles(files), files }, () => undefined, r.log));
    for (let i = 1; i <= 2; i++) {
      rmSync(files.cert);
      await expect.poll(() => r.warn.length, { timeout: 5_000, interval: 10 }).toBe(i);
      await settle();
      expect(r.warn).toHaveLength(i); // once per failure, not at every read
      write(files.cert, pair.cert);
      await settle();
    }
    expect(r.info).toEqual([]);
  });
});

describe('followCaFile', () => {
  it('trusts the rotated CA with the previous one, and a file without a certificate not at all', async () => {
    const [ca1, ca2] = [createCa('tls-files-ca-1', 30), createCa('tls-files-ca-2', 30)];
    const file = join(dir, 'ca.crt');
    write(file, ca1.cert);
    const trusted: string[] = [];
    const r = recorder();
    stops.push(followCaFile({ ...readCaFile(file), intervalMs: 10 }, (ca) => void trusted.push(ca), r.log));
    write(file, 'not a certificate\n');
    await expect.poll(() => r.warn.length, { timeout: 5_000, interval: 10 }).toBe(1);
    expect(r.warn[0]).toBe('CA file not applied; still trusting the previous CA: no certificate in the file');
    write(file, ca2.cert);
    await expect.poll(() => trusted.length, { timeout: 5_000, interval: 10 }).toBe(1);
    expect(trusted[0]).toBe(`${ca2.cert.trimEnd()}\n${ca1.cert.trimEnd()}\n`);
  });

  // A bundle read while it was being written (a file not swapped at once): its first certificate
  // parsed, so it was trusted and became "the previous CA"; the complete bundle read next then
  // replaced the CA trusted before the rotation, which the peer still presented until re-issued.
  it('does not take a bundle whose last certificate is cut off: the CA before the rotation stays trusted', async () => {
    const [ca1, ca2, ca3] = [createCa('tls-files-cut-1', 30), createCa('tls-files-cut-2', 30), createCa('tls-files-cut-3', 30)];
    const file = join(dir, 'bundle.crt');
    write(file, ca1.cert);
    const trusted: string[] = [];
    const r = recorder();
    stops.push(followCaFile({ ...readCaFile(file), intervalMs: 10 }, (ca) => void trusted.push(ca), r.log));
    const bundle = `${ca2.cert.trimEnd()}\n${ca3.cert}`;
    writeFileSync(file, bundle.slice(0, ca2.cert.length + 120)); // written in place, half done
    await expect.poll(() => trusted.length + r.warn.length, { timeout: 5_000, interval: 10 }).toBeGreaterThan(0);
    writeFileSync(file, bundle);
    await expect.poll(() => trusted.at(-1)?.includes(ca3.cert.trimEnd()) === true, { timeout: 5_000, interval: 10 }).toBe(true);
    expect(trusted.at(-1)).toBe(`${bundle.trimEnd()}\n${ca1.cert.trimEnd()}\n`);
    expect(trusted).toHaveLength(1);
    expect(r.warn).toEqual(['CA file not applied; still trusting the previous CA: a certificate in the file is cut off or does not parse']);
  });
});
