import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { type Service, startService, waitUntil } from './proc.js';

/** Starts the upstream emulator on the client core (one Go thread) and waits until it says its port. */
export async function startEmulator(cfg: Pick<BenchConfig, 'rawDir' | 'cacheDir' | 'clientCore' | 'nice'>): Promise<{ emulator: Service; port: number }> {
  const portFile = join(cfg.rawDir, 'emulator.port');
  const emulator = startService('emulator', join(cfg.cacheDir, 'bin', 'emulator'), ['-addr', '127.0.0.1:0', '-port-file', portFile, '-max-life', '2h'], {
    core: cfg.clientCore, nice: cfg.nice, logFile: join(cfg.rawDir, 'emulator.log'), env: { ...process.env, GOMAXPROCS: '1' },
  });
  await waitUntil('emulator', async () => existsSync(portFile) && readFileSync(portFile, 'utf8') !== '', 10_000, emulator);
  return { emulator, port: Number(readFileSync(portFile, 'utf8')) };
}
