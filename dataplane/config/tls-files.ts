import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A PEM certificate (chain) and its private key. */
export interface TlsPair {
  cert: string;
  key: string;
}

/** Where a served certificate and key come from, when they come from files. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** How often the files are read again (default TLS_FOLLOW_INTERVAL_MS). */
  intervalMs?: number;
}

/** What a TLS listener serves: the pair, and the files it was read from when it should follow them. */
export interface TlsMaterial extends TlsPair {
  files?: TlsFiles;
}

/**
 * A minute: the kubelet itself refreshes a mounted Secret about that often, and cert-manager renews
 * a certificate a third of its lifetime (30 days by default) before it expires.
 */
export const TLS_FOLLOW_INTERVAL_MS = 60_000;

export function readTlsFiles(files: TlsFiles): TlsMaterial {
  return { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8'), files };
}

interface FollowLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Reads something from files every interval and hands a changed value on: the one loop both
 * followers below share. `apply` throws to refuse a value (a file caught between updates, or not
 * what it should be): the previous one stays, and it is read again at the next tick. A read still
 * running when the next tick comes is not started again. One warning per failure, not one a minute
 * while it lasts; a read that succeeds ends the failure, so the next one is warned of too (before,
 * a file that went, came back unchanged and went again was warned of once). Returns the function
 * that stops it.
 */
function followFiles<T>(opts: {
  initial: T;
  intervalMs: number | undefined;
  read: () => Promise<T>;
  same: (a: T, b: T) => boolean;
  /** Takes `next` over from `previous`, or throws to keep `previous`. */
  apply: (next: T, previous: T) => void;
  applied: () => void;
  failed: (message: string) => void;
}): () => void {
  let current = opts.initial;
  let reading = false;
  let lastError = '';
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    opts
      .read()
      .then((next) => {
        if (!opts.same(next, current)) {
          opts.apply(next, current);
          current = next;
          opts.applied();
        }
        lastError = '';
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) opts.failed(message);
        lastError = message;
      })
      .finally(() => {
        reading = false;
      });
  }, opts.intervalMs ?? TLS_FOLLOW_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Serves a renewed certificate without a restart: reads `material.files` again every interval and
 * hands a changed pair to `apply` (a server's setSecureContext). Certificates mounted from a Secret
 * that cert-manager renews change under a running process; read only at start, the process served
 * the old one until it expired, and the operator↔data-plane channel failed from then on.
 * A pair that does not apply (read between the updates of its two files, or not a pair) is tried
 * again at the next tick; the previous one is served meanwhile. Returns the function that stops it.
 */
export function followTlsFiles(material: TlsMaterial, apply: (pair: TlsPair) => void, log: FollowLog): () => void {
  const files = material.files;
  if (files === undefined) return () => undefined;
  return followFiles<TlsPair>({
    initial: { cert: material.cert, key: material.key },
    intervalMs: files.intervalMs,
    read: async () => {
      const [cert, key] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
      return { cert, key };
    },
    same: (a, b) => a.cert === b.cert && a.key === b.key,
    apply: (pair) => apply(pair),
    applied: () => log.info({ cert: files.cert }, 'serving the renewed TLS certificate'),
    failed: (err) => log.warn({ cert: files.cert, err }, 'TLS certificate files not applied; still serving the previous certificate'),
  });
}

/** A CA bundle to trust, and the file it was read from when it should follow it (--operator-ca, --dataplane-ca). */
export interface CaMaterial {
  ca: string;
  file?: string;
  /** How often the file is read again (default TLS_FOLLOW_INTERVAL_MS). */
  intervalMs?: number;
}

export function readCaFile(file: string): CaMaterial {
  return { ca: readFileSync(file, 'utf8'), file };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Why a bundle is not one to trust, or undefined when it is: at least one certificate, and every
 * one node can parse. Not only the first: a bundle read while it was written in place had a whole
 * first certificate and a cut-off second, and was trusted (node drops the cut-off one), then kept as
 * "the previous CA" in place of the one trusted before the rotation.
 */
function certificatesProblem(pem: string): string | undefined {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'no certificate in the file';
  const begun = pem.split('-----BEGIN CERTIFICATE-----').length - 1;
  const cut = 'a certificate in the file is cut off or does not parse';
  if (begun !== blocks.length) return cut;
  try {
    for (const block of blocks) new X509Certificate(block);
  } catch {
    return cut;
  }
  return undefined;
}

/**
 * Trusts a rotated CA without a restart: reads `material.file` again every interval and hands
 * `apply` the bundle to trust from then on: the new file's certificates and the previous file's.
 * Read only at start, a CA rotation (cert-manager re-issuing the channel certificates from a new CA)
 * broke the channel until the pods restarted: the peer's renewed certificate did not verify. The
 * previous CA stays trusted until the file changes again (the next rotation) or the process
 * restarts, because cert-manager re-issues the two ends' certificates one at a time: until the
 * peer's is re-issued too, it still presents one from the old CA. A file without a certificate, or
 * with one cut off (caught while it was written), is not applied (the previous trust stays).
 * Returns the function that stops it.
 */
export function followCaFile(material: CaMaterial, apply: (trusted: string) => void, log: FollowLog): () => void {
  const file = material.file;
  if (file === undefined) return () => undefined;
  return followFiles<string>({
    initial: material.ca,
    intervalMs: material.intervalMs,
    read: () => readFile(file, 'utf8'),
    same: (a, b) => a === b,
    apply: (next, previous) => {
      const problem = certificatesProblem(next);
      if (problem !== undefined) throw new Error(problem);
      apply(`${next.trimEnd()}\n${previous.trimEnd()}\n`);
    },
    applied: () => log.info({ ca: file }, 'trusting the rotated CA (and the previous one until the next rotation)'),
    failed: (err) => log.warn({ ca: file, err }, 'CA file not applied; still trusting the previous CA'),
  });
}
