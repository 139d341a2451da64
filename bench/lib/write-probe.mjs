// Preload for bench/chunk-coalescing.ts (node --import): records, in the gateway, the wall-clock time
// of every response write that carries an emulator chunk (`tok<i>@<ns>`), every GC (perf_hooks) and
// every event-loop turn that started more than 4 ms late, and appends them to WRITE_PROBE_FILE as
// JSON lines every second. Diagnostic only: the 1 ms timer costs the gateway a little CPU.
import { appendFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const file = process.env.WRITE_PROBE_FILE;
if (file !== undefined) {
  const lines = [];
  const now = () => performance.timeOrigin + performance.now();
  const tok = /tok(\d+)@(\d+)/g;
  const write = ServerResponse.prototype.write;
  ServerResponse.prototype.write = function (chunk, ...rest) {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1') : '';
    const at = now();
    const result = write.call(this, chunk, ...rest);
    for (const m of text.matchAll(tok)) lines.push(JSON.stringify({ w: at, ns: m[2], ret: result }));
    return result;
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines.push(JSON.stringify({ gc: performance.timeOrigin + e.startTime, ms: e.duration, kind: e.detail?.kind }));
  }).observe({ entryTypes: ['gc'] });
  // cpu: the share of the late turn this process ran (all its threads): ~1 means it was busy
  // (our JavaScript, a GC, the compiler threads), ~0 that other processes had the core.
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    if (t - last > 5) lines.push(JSON.stringify({ stall: performance.timeOrigin + last, ms: t - last, cpu: (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000 / (t - last) }));
    last = t;
    lastCpu = cpu;
  }, 1).unref();
  setInterval(() => {
    if (lines.length > 0) appendFileSync(file, lines.splice(0).join('\n') + '\n');
  }, 1000).unref();
}
