import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { type LoadResult, loadManifests, type ManifestFile } from './manifest-loader.js';

const MANIFEST = /\.(ya?ml|json)$/i;

export function readManifestDir(dir: string): ManifestFile[] {
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
    this.watcher = watch(this.dir, { recursive: true }, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), this.debounceMs);
    });
    return first;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
