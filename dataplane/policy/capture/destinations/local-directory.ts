import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { objectName, partitionPrefix } from '../../../config/capture-layout.js';
import type { CaptureDestination } from '../bounded-exporter.js';
import { splitRecord } from '../capture-record.js';

/**
 * `tollgate dev` only: appends each batch as JSON Lines in the bucket's layout
 * (config/capture-layout.ts), metadata and content in separate files so that `tollgate dev`'s
 * retention sweep can expire content first: <path>/<metadata|content>/namespace=<ns>/date=<YYYY-MM-DD>/hour=<HH>/<policy>.jsonl.
 */
export function localDirectoryDestination(path: string): CaptureDestination {
  return {
    async write(batch) {
      const files = new Map<string, string[]>();
      const add = (file: string, line: unknown): void => {
        const lines = files.get(file) ?? [];
        lines.push(`${JSON.stringify(line)}\n`);
        files.set(file, lines);
      };
      for (const r of batch) {
        const { metadata, content } = splitRecord(r);
        const name = objectName(r.policy.id, undefined, '.jsonl');
        add(join(path, partitionPrefix('', 'metadata', r.namespace, r.time), name), metadata);
        if (content !== undefined) add(join(path, partitionPrefix('', 'content', r.namespace, r.time), name), content);
      }
      for (const [file, lines] of files) {
        await mkdir(join(file, '..'), { recursive: true });
        await appendFile(file, lines.join(''));
      }
    },
  };
}
