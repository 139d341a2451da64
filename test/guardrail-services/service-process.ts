import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** A guardrail test service running as its own process. */
export interface ServiceProcess {
  url: string;
  /** GET /received: what the service got and what it found wrong. */
  received<T>(): Promise<T>;
  /** SIGTERM, and waits for the exit (idempotent). */
  stop(): Promise<void>;
}

/** Starts `<name>.ts` of this folder under tsx and waits for its `listening <url>` line (bounded). */
export async function startService(name: 'webhook-guard' | 'moderation-emulator', env: Record<string, string> = {}): Promise<ServiceProcess> {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s: ${stderr}`)), 30_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)\n/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening: ${stderr}`));
    });
  });
  return {
    url,
    received: async <T>() => (await (await fetch(`${url}/received`)).json()) as T,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
