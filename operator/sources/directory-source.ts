import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type LoadResult, loadManifests, type ManifestFile } from './manifest-loader.js';

const MANIFEST = /\.(ya?ml|json)$/i;

/** The manifests under a directory (recursively), or the one file `path` names, as kubectl -f reads both. */
export function readManifestDir(path: string): ManifestFile[] {
  if (statSync(path).isFile()) return [{ path, content: readFileSync(path, 'utf8') }];
  const dir = path;
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => MANIFEST.test(name))
    .sort()
    .map((name) => ({ path: join(dir, name), content: readFileSync(join(dir, name), 'utf8') }));
}

/**
 * Manifests from a directory, reloaded when a file changes (debounced, so that an editor's
 * write-rename-delete dance gives one reload).
 */
export class DirectorySource {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly onLoad: (result: LoadResult) => void,
    private readonly debounceMs = 100,
  ) {}

  load(): LoadResult {
    let result: LoadResult;
    try {
      result = loadManifests(readManifestDir(this.dir));
    } catch (err) {
      result = { input: { providers: [], routes: [], budgets: [], secrets: [] }, errors: [{ file: this.dir, message: (err as Error).message }], ignored: [] };
    }
    this.onLoad(result);
    return result;
  }

  start(): LoadResult {
    const first = this.load();
    const reload = (): void => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), this.debounceMs);
    };
    // One file: its directory is watched, since an editor's save replaces the file (a watch on the
    // file itself would follow the old one and miss every save after the first).
    this.watcher = statSync(this.dir).isFile()
      ? watch(dirname(this.dir), (_event, name) => {
          if (name === basename(this.dir)) reload();
        })
      : watch(this.dir, { recursive: true }, reload);
    return first;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
