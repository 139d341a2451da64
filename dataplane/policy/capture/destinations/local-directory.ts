import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptureDestination } from '../bounded-exporter.js';
import type { CaptureRecord } from '../capture-record.js';

/**
 * `tollgate dev` only: appends each batch as JSON Lines to <path>/<namespace>/<YYYY-MM-DD>.jsonl
 * (UTC date of the request). Retention is not enforced here: it is a developer's own disk.
 */
export function localDirectoryDestination(path: string): CaptureDestination {
  return {
    async write(batch) {
      const files = new Map<string, CaptureRecord[]>();
      for (const r of batch) {
        const file = join(path, safeSegment(r.namespace), `${r.time.slice(0, 10)}.jsonl`);
        files.set(file, [...(files.get(file) ?? []), r]);
      }
      for (const [file, records] of files) {
        await mkdir(join(file, '..'), { recursive: true });
        await appendFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      }
    },
  };
}

/** A namespace is a DNS label already; this keeps a path segment a path segment whatever it is. */
export function safeSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';
}
