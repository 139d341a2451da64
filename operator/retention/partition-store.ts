/** One stored object: its key (below the store's top) and size in bytes. */
export interface StoredObject {
  key: string;
  size: number;
}

export interface ListPage {
  /** With `delimited`: the "folders" one level below the prefix, each ending in "/". */
  prefixes: string[];
  objects: StoredObject[];
  /** Pass back to get the next page; absent on the last page. */
  next?: string;
}

/**
 * What the retention sweep needs of a place records are stored in (an S3 bucket, a local
 * directory): list keys in key order, page by page, and delete some. A delete of a key that is
 * already gone succeeds, so a sweep that is cut short and run again is harmless.
 */
export interface PartitionStore {
  list(prefix: string, delimited: boolean, next?: string): Promise<ListPage>;
  /** At most DELETE_BATCH keys; resolves with the keys that could not be deleted and why. */
  delete(keys: readonly string[]): Promise<{ failed: { key: string; reason: string }[] }>;
}

/** S3 DeleteObjects takes at most 1000 keys. */
export const DELETE_BATCH = 1000;
