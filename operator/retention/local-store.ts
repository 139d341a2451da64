import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ListPage, PartitionStore, StoredObject } from './partition-store.js';

const toKey = (path: string): string => path.split(sep).join('/');

/**
 * A local directory (`tollgate dev`'s destination) as a partition store: keys are paths below the
 * directory with "/" separators; one page per listing (a developer's disk, not a bucket). Deleting
 * a file also removes the folders it leaves empty, so old dates do not linger as empty partitions.
 */
export function localStore(path: string): PartitionStore {
  // Absolute, so that the folder clean-up below knows where to stop whatever path it was given.
  const dir = resolve(path);
  const entries = async (path: string): Promise<import('node:fs').Dirent[]> => {
    try {
      return (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  const files = async (path: string, out: StoredObject[]): Promise<void> => {
    for (const e of await entries(path)) {
      const child = join(path, e.name);
      if (e.isDirectory()) await files(child, out);
      else if (e.isFile()) out.push({ key: toKey(relative(dir, child)), size: (await stat(child)).size });
    }
  };
  return {
    async list(prefix, delimited): Promise<ListPage> {
      const path = join(dir, prefix);
      const page: ListPage = { prefixes: [], objects: [] };
      if (!delimited) {
        await files(path, page.objects);
        return page;
      }
      for (const e of await entries(path)) {
        if (e.isDirectory()) page.prefixes.push(`${prefix}${e.name}/`);
        else if (e.isFile()) page.objects.push({ key: `${prefix}${e.name}`, size: (await stat(join(path, e.name))).size });
      }
      return page;
    },
    async delete(keys) {
      const failed: { key: string; reason: string }[] = [];
      const parents = new Set<string>();
      for (const key of keys) {
        const path = join(dir, key);
        try {
          await unlink(path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') failed.push({ key, reason: code ?? (err as Error).message });
        }
        parents.add(dirname(path));
      }
      // Deepest first; a folder that is not empty (or already gone) stays as it is.
      for (const folder of [...parents].sort((a, b) => b.length - a.length)) {
        for (let f = folder; f.startsWith(dir) && f !== dir; f = dirname(f)) {
          if (!(await rmdir(f).then(() => true, () => false))) break;
        }
      }
      return { failed };
    },
  };
}
