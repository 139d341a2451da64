// Preload for bench/alloc-per-request.ts (node --import): measures what the gateway allocates in a
// window the harness opens and closes with SIGUSR2, independent of how busy the machine is.
//   ALLOC_PROBE_OUT    file the window's result is written to (JSON); `<file>.started` once it is open
//   ALLOC_PROBE_SITES  =1: also run V8's sampling heap profiler over the window (objects later collected
//                      by minor and major GCs included) and report the largest allocation sites
//   ALLOC_PROBE_DEPTH  frames per site (default 1: the allocating function; 3: it and two callers)
//   ALLOC_PROBE_CPU    =1: also write a CPU profile of this thread over the window to `<file>.cpuprofile`
//                      (sampling every ALLOC_PROBE_CPU_INTERVAL µs, default 100)
// Bytes allocated are read from the heap spaces around every GC of the window (v8.GCProfiler): what a
// space holds just before a GC minus what it held after the previous one (or at the window's start).
// New space is bump-allocated, so its sum is exact; old spaces can shrink between GCs while the sweeper
// frees pages, so a negative interval counts as 0 there (an undercount only of old-space allocation,
// which is small on the request path).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import v8 from 'node:v8';

const out = process.env.ALLOC_PROBE_OUT;
const withSites = process.env.ALLOC_PROBE_SITES === '1';
const samplingInterval = 128;
const depth = Number(process.env.ALLOC_PROBE_DEPTH ?? 1);
const withCpu = process.env.ALLOC_PROBE_CPU === '1';
const cpuInterval = Number(process.env.ALLOC_PROBE_CPU_INTERVAL ?? 100);

/** space name → bytes used, from either statistics format (getHeapSpaceStatistics or GCProfiler's). */
function used(spaces) {
  const m = new Map();
  for (const s of spaces) m.set(s.space_name ?? s.spaceName, s.space_used_size ?? s.spaceUsedSize);
  return m;
}

function post(session, method, params = {}) {
  return new Promise((ok, ko) => session.post(method, params, (err, res) => (err ? ko(err) : ok(res))));
}

/** Self bytes per function (name, file:line), largest first, from a sampling heap profile. */
function topSites(profile, top) {
  const bySite = new Map();
  let total = 0;
  const walk = (node, callers) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const frames = [`${functionName || '(anonymous)'} ${url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`, ...callers].slice(0, depth);
    const key = frames.join(' <- ');
    bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child, frames);
  };
  walk(profile.head, []);
  return { sampledBytes: total, sites: [...bySite.entries()].sort((a, b) => b[1] - a[1]).slice(0, top) };
}

if (out !== undefined) {
  let window;
  process.on('SIGUSR2', () => {
    if (window === undefined) {
      const session = withSites || withCpu ? new Session() : undefined;
      const begin = async () => {
        if (session !== undefined) session.connect();
        if (withCpu) {
          await post(session, 'Profiler.enable');
          await post(session, 'Profiler.setSamplingInterval', { interval: cpuInterval });
          await post(session, 'Profiler.start');
        }
        if (withSites) {
          await post(session, 'HeapProfiler.enable');
          await post(session, 'HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        }
        const profiler = new v8.GCProfiler();
        profiler.start();
        window = { session, profiler, start: used(v8.getHeapSpaceStatistics()) };
        writeFileSync(`${out}.started`, '1');
      };
      void begin();
      return;
    }
    const { session, profiler, start } = window;
    const end = used(v8.getHeapSpaceStatistics());
    const gcs = profiler.stop().statistics;
    const allocated = new Map();
    let prev = start;
    const add = (before) => {
      for (const [space, bytes] of before) {
        const delta = bytes - (prev.get(space) ?? 0);
        allocated.set(space, (allocated.get(space) ?? 0) + (space.startsWith('new_') ? delta : Math.max(0, delta)));
      }
    };
    const kinds = {};
    for (const gc of gcs) {
      add(used(gc.beforeGC.heapSpaceStatistics));
      prev = used(gc.afterGC.heapSpaceStatistics);
      kinds[gc.gcType] = (kinds[gc.gcType] ?? 0) + 1;
    }
    add(end);
    const finish = async () => {
      const result = { allocatedBySpace: Object.fromEntries(allocated), gcs: kinds };
      if (withCpu) {
        const { profile } = await post(session, 'Profiler.stop');
        writeFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
      }
      if (withSites) {
        const { profile } = await post(session, 'HeapProfiler.stopSampling');
        Object.assign(result, topSites(profile, 40));
      }
      session?.disconnect();
      writeFileSync(out, JSON.stringify(result));
    };
    void finish();
  });
}
