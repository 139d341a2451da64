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
  let served: TlsPair = { cert: material.cert, key: material.key };
  let reading = false;
  // One warning per distinct failure, not one a minute while a Secret stays broken.
  let lastError = '';
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')])
      .then(([cert, key]) => {
        if (cert === served.cert && key === served.key) return;
        apply({ cert, key });
        served = { cert, key };
        lastError = '';
        log.info({ cert: files.cert }, 'serving the renewed TLS certificate');
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) log.warn({ cert: files.cert, err: message }, 'TLS certificate files not applied; still serving the previous certificate');
        lastError = message;
      })
      .finally(() => {
        reading = false;
      });
  }, files.intervalMs ?? TLS_FOLLOW_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
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

/** Whether a bundle holds at least one certificate node can parse (not a file caught half-written or emptied). */
function parsesAsCertificates(pem: string): boolean {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (first === null) return false;
  try {
    new X509Certificate(first[0]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Trusts a rotated CA without a restart: reads `material.file` again every interval and hands
 * `apply` the bundle to trust from then on: the new file's certificates and the previous file's.
 * Read only at start, a CA rotation (cert-manager re-issuing the channel certificates from a new CA)
 * broke the channel until the pods restarted: the peer's renewed certificate did not verify. The
 * previous CA stays trusted until the file changes again (the next rotation) or the process
 * restarts, because cert-manager re-issues the two ends' certificates one at a time: until the
 * peer's is re-issued too, it still presents one from the old CA. A file without a certificate is
 * not applied (the previous trust stays). Returns the function that stops it.
 */
export function followCaFile(material: CaMaterial, apply: (trusted: string) => void, log: FollowLog): () => void {
  const file = material.file;
  if (file === undefined) return () => undefined;
  let current = material.ca;
  let lastError = '';
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    readFile(file, 'utf8')
      .then((next) => {
        if (next === current) return;
        if (!parsesAsCertificates(next)) throw new Error('no certificate in the file');
        const previous = current;
        apply(`${next.trimEnd()}\n${previous.trimEnd()}\n`);
        current = next;
        lastError = '';
        log.info({ ca: file }, 'trusting the rotated CA (and the previous one until the next rotation)');
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) log.warn({ ca: file, err: message }, 'CA file not applied; still trusting the previous CA');
        lastError = message;
      })
      .finally(() => {
        reading = false;
      });
  }, material.intervalMs ?? TLS_FOLLOW_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
