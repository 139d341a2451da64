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
