import { type TollgateCommand, tollgateCommand } from './config.js';

/**
 * AB_ENV_A / AB_ENV_B: environment variables for one side of an A/B's gateway (e.g.
 * MALLOC_ARENA_MAX=2), space-separated NAME=value pairs, for StartContext.env.
 */
export function sideEnv(label: 'A' | 'B'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (process.env[`AB_ENV_${label}`] ?? '').split(' ').filter((p) => p !== '')) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`AB_ENV_${label}: '${pair}' is not NAME=value`);
    env[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return env;
}

/** AB_TOLLGATE_COMMAND_A / _B: one side's Tollgate command (dev or dataplane) instead of BENCH_TOLLGATE_COMMAND's, for StartContext.command. */
export function sideCommand(label: 'A' | 'B'): { command?: TollgateCommand } {
  const value = process.env[`AB_TOLLGATE_COMMAND_${label}`];
  return value === undefined || value === '' ? {} : { command: tollgateCommand(value, `AB_TOLLGATE_COMMAND_${label}`) };
}
