import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Informer } from './informer.js';
import { KubeError, type KubeClient, type KubeList, type KubeObject, type WatchEvent } from './kube-client.js';

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

/** A scripted API server: lists return the current objects; each watch plays the next script. */
class FakeApi {
  objects = new Map<string, KubeObject>();
  lists: string[] = [];
  watches: string[] = [];
  scripts: ((signal: AbortSignal) => AsyncGenerator<WatchEvent<KubeObject>>)[] = [];
  listRv = '10';

  async request<T>(_method: string, path: string): Promise<T> {
    this.lists.push(path);
    const list: KubeList<KubeObject> = { metadata: { resourceVersion: this.listRv }, items: [...this.objects.values()] };
    return list as T;
  }

  watch<T>(_path: string, resourceVersion: string, signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    this.watches.push(resourceVersion);
    const script = this.scripts.shift();
    if (script === undefined) {
      return (async function* () {
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      })() as AsyncGenerator<WatchEvent<T>>;
    }
    return script(signal) as AsyncGenerator<WatchEvent<T>>;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion and applies events and bookmarks', async () => {
    const api = new FakeApi();
    api.objects.set('ns/a', obj('a', '5'));
    api.scripts.push(async function* () {
      yield { type: 'ADDED', object: obj('b', '11') };
      yield { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } };
      yield { type: 'DELETED', object: obj('a', '16') };
    });
    const cache = new Map<string, KubeObject>();
    const informer = new Informer(cache, api as unknown as KubeClient, '/api/v1/things', () => undefined, pino({ level: 'silent' }));
    informer.start();
    await informer.hasSynced();
    await settle();
    expect([...cache.keys()]).toEqual(['ns/b']);
    // The watch ended (server timeout): it resumes from the bookmark without relisting.
    expect(api.watches).toEqual(['10', '16']);
    expect(api.lists).toHaveLength(1);
    informer.stop();
  });

  it('relists on 410 Gone, replacing what it had, and restarts after errors', async () => {
    const api = new FakeApi();
    api.objects.set('ns/a', obj('a', '5'));
    api.scripts.push(async function* () {
      yield { type: 'ERROR', object: { code: 410, message: 'too old resource version' } };
    });
    api.scripts.push(async function* () {
      throw new KubeError(500, 'connection reset');
      yield { type: 'ADDED', object: obj('never', '1') };
    });
    const cache = new Map<string, KubeObject>();
    let events = 0;
    const informer = new Informer(cache, api as unknown as KubeClient, '/api/v1/things', () => void events++, pino({ level: 'silent' }));
    informer.start();
    await informer.hasSynced();
    api.objects.clear();
    api.objects.set('ns/c', obj('c', '20'));
    api.listRv = '20';
    await new Promise((r) => setTimeout(r, 600)); // one backoff after the 500
    expect(api.lists.length).toBe(2);
    expect([...cache.keys()]).toEqual(['ns/c']);
    expect(api.watches).toEqual(['10', '20', '20']);
    expect(informer.lists).toBe(2);
    expect(events).toBeGreaterThanOrEqual(2);
    informer.stop();
  });

  it('backs off a watch that the API server closes at once with no event', async () => {
    const api = new FakeApi();
    for (let i = 0; i < 10_000; i++) api.scripts.push(async function* () {});
    const informer = new Informer(new Map(), api as unknown as KubeClient, '/api/v1/things', () => undefined, pino({ level: 'silent' }));
    informer.start();
    await new Promise((r) => setTimeout(r, 1_000));
    informer.stop();
    // At 0, 250 and 750 ms (thousands, restarted at once, before).
    expect(api.watches.length).toBeGreaterThanOrEqual(2);
    expect(api.watches.length).toBeLessThanOrEqual(4);
  });

  it('relists when the API server has not reached the resourceVersion (504 Too large resource version)', async () => {
    const api = new FakeApi();
    api.scripts.push(async function* () {
      yield { type: 'ERROR', object: { code: 504, reason: 'Timeout', message: 'Too large resource version: 20, current: 10', details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } } };
    });
    const informer = new Informer(new Map(), api as unknown as KubeClient, '/api/v1/things', () => undefined, pino({ level: 'silent' }));
    informer.start();
    await new Promise((r) => setTimeout(r, 400));
    informer.stop();
    expect(api.lists).toHaveLength(2);
  });

  it('starts its backoff over after a watch that ran long, even with no event (a quiet resource)', async () => {
    const api = new FakeApi();
    const started: number[] = [];
    const failing = async function* (): AsyncGenerator<WatchEvent<KubeObject>> {
      started.push(Date.now());
      throw new KubeError(500, 'connection reset');
    };
    // Two failures (backoff 250, then 500), a quiet watch of 300 ms, then a failure: 250 again, not 1,000.
    api.scripts.push(failing, failing, async function* () {
      started.push(Date.now());
      await new Promise((r) => setTimeout(r, 300));
    }, failing, async function* (signal: AbortSignal) {
      started.push(Date.now());
      await new Promise((r) => signal.addEventListener('abort', r));
    });
    const informer = new Informer(new Map(), api as unknown as KubeClient, '/api/v1/things', () => undefined, pino({ level: 'silent' }), (o) => o, 200);
    informer.start();
    await new Promise((r) => setTimeout(r, 2_500));
    informer.stop();
    expect(started).toHaveLength(5);
    const [, , quiet, failed, after] = started as [number, number, number, number, number];
    expect(failed - quiet).toBeGreaterThanOrEqual(290);
    // The retry after the quiet watch waits the first backoff step again (250 ms), not the third (1,000).
    expect(after - failed).toBeLessThan(900);
    expect(after - failed).toBeGreaterThanOrEqual(240);
  });

  it('relists after three ERROR events in a row, backing off between them', async () => {
    const api = new FakeApi();
    for (let i = 0; i < 3; i++) {
      api.scripts.push(async function* () {
        yield { type: 'ERROR', object: { code: 500, message: 'internal error' } };
      });
    }
    const informer = new Informer(new Map(), api as unknown as KubeClient, '/api/v1/things', () => undefined, pino({ level: 'silent' }));
    informer.start();
    await new Promise((r) => setTimeout(r, 1_000));
    // 250 and 500 ms apart: an ERROR event is no sign that the watch works.
    expect(api.watches).toHaveLength(3);
    expect(api.lists).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_000));
    informer.stop();
    expect(api.lists).toHaveLength(2);
  });

  it('shares a cache with informers of other namespaces without removing their keys', async () => {
    const a = new FakeApi();
    const b = new FakeApi();
    a.objects.set('x/one', { metadata: { name: 'one', namespace: 'x' } });
    b.objects.set('y/two', { metadata: { name: 'two', namespace: 'y' } });
    const cache = new Map<string, KubeObject>();
    const ia = new Informer(cache, a as unknown as KubeClient, '/x', () => undefined, pino({ level: 'silent' }));
    const ib = new Informer(cache, b as unknown as KubeClient, '/y', () => undefined, pino({ level: 'silent' }));
    ia.start();
    ib.start();
    await Promise.all([ia.hasSynced(), ib.hasSynced()]);
    expect([...cache.keys()].sort()).toEqual(['x/one', 'y/two']);
    ia.stop();
    ib.stop();
  });
});
