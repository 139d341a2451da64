import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { objectName, partitionPrefix } from '../../../config/capture-layout.js';
import { type CaptureDestination, PartialWrite } from '../bounded-exporter.js';

/**
 * `tollgate dev` only: appends each batch as JSON Lines in the bucket's layout
 * (config/capture-layout.ts), metadata and content in separate files so that `tollgate dev`'s
 * retention sweep can expire content first: <path>/<metadata|content>/namespace=<ns>/date=<YYYY-MM-DD>/hour=<HH>/<policy>.jsonl.
 */
export function localDirectoryDestination(path: string): CaptureDestination {
  return {
    async write(batch) {
      let written = 0;
      try {
        for (const group of batch) {
          const name = objectName(group.policyId, undefined, '.jsonl');
          await appendLines(join(path, partitionPrefix('', 'metadata', group.namespace, group.time), name), group.metadata);
          if (group.content.length > 0) await appendLines(join(path, partitionPrefix('', 'content', group.namespace, group.time), name), group.content);
          written += group.records;
        }
      } catch (error) {
        throw written > 0 ? new PartialWrite(written, error) : error;
      }
    },
  };
}

async function appendLines(file: string, lines: Buffer): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  await appendFile(file, lines);
}
