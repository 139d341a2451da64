import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tracer } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';
import { type DevGateway, type DevOptions, startDev } from '../../cli/dev-command.js';
import type { LoadResult } from '../../operator/sources/manifest-loader.js';
import type { Authenticator } from '../../dataplane/governance/identity/authenticator.js';
import { UsageTotals } from '../../dataplane/metering/usage-record.js';

export interface TestGateway extends DevGateway {
  dir: string;
  usage: UsageTotals;
  /** Writes (or replaces) a manifest file and reloads synchronously. */
  write(name: string, yaml: string): LoadResult;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  drainTimeoutMs?: number;
  /** Default 1 s, as `tollgate dev`. */
  idleConnectionGraceMs?: number;
  /** How long a client has to send a request's headers (default 15 s). */
  headersTimeoutMs?: number;
  auth?: Authenticator;
  /** Record traces with this tracer. */
  tracer?: Tracer;
  /** Also serve the admin port (GET /metrics) on a free loopback port: `adminUrl`. */
  admin?: boolean;
  /** Instead of the silenced default (e.g. to read the access log). */
  logger?: Logger;
  /** Rate-limit and cache backends (e.g. Redis); per-process memory backends when absent. */
  governance?: DevOptions['governance'];
  /** Request body limits instead of the data plane's defaults. */
  bodyLimits?: DevOptions['bodyLimits'];
  /** Bytes of large upstream answers held at once instead of the data plane's default. */
  maxInflightResponseBytes?: number;
  /** Every finished inference request (usage history). */
  onRequest?: DevOptions['onRequest'];
  /** DataPolicy capture queue sizes and batching. */
  capture?: DevOptions['capture'];
  /** How long metric series of deleted objects are still shown. */
  metricSeriesGraceMs?: number;
}

/** `tollgate dev` on a temporary manifest directory, on a free loopback port, with logs silenced. */
export async function startTestGateway(files: Record<string, string>, opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const usage = new UsageTotals();
  const gateway = await startDev({
    usage,
    ...(opts.auth === undefined ? {} : { auth: opts.auth }),
    ...(opts.tracer === undefined ? {} : { tracer: opts.tracer }),
    ...(opts.governance === undefined ? {} : { governance: opts.governance }),
    ...(opts.admin === true ? { adminPort: 0 } : {}),
    ...(opts.bodyLimits === undefined ? {} : { bodyLimits: opts.bodyLimits }),
    ...(opts.maxInflightResponseBytes === undefined ? {} : { maxInflightResponseBytes: opts.maxInflightResponseBytes }),
    ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
    ...(opts.capture === undefined ? {} : { capture: opts.capture }),
    ...(opts.metricSeriesGraceMs === undefined ? {} : { metricSeriesGraceMs: opts.metricSeriesGraceMs }),
    dir,
    host: '127.0.0.1',
    port: 0,
    drainTimeoutMs: opts.drainTimeoutMs ?? 5_000,
    ...(opts.idleConnectionGraceMs === undefined ? {} : { idleConnectionGraceMs: opts.idleConnectionGraceMs }),
    ...(opts.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: opts.headersTimeoutMs }),
    logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  return {
    ...gateway,
    dir,
    usage,
    write(name: string, yaml: string) {
      writeFileSync(join(dir, name), yaml);
      return gateway.reload();
    },
    async close() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** YAML for a Provider pointing at a local upstream. */
export function openAiProvider(name: string, baseUrl: string, extra = ''): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: ${name} }
spec:
  type: openai-compatible
  url: ${baseUrl}
  credentials: { secretRef: { name: ${name}-key, key: apiKey } }
${extra}---
apiVersion: v1
kind: Secret
metadata: { name: ${name}-key }
stringData: { apiKey: sk-${name} }
`;
}

/**
 * An `azure-openai` Provider `azure` (and its key Secret) for the Azure emulator's deployment
 * `gpt4o-prod` (test/emulators/azure-openai.ts: startAzureOpenAiEmulator('gpt4o-prod', 'azure-test-key', '2024-10-21')).
 */
export function azureEmulatorProvider(url: string): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: azure }
spec:
  type: azure-openai
  url: ${url}
  credentials: { secretRef: { name: azure, key: apiKey } }
  azure: { deployment: gpt4o-prod, apiVersion: "2024-10-21" }
---
apiVersion: v1
kind: Secret
metadata: { name: azure }
stringData: { apiKey: azure-test-key }
`;
}

/**
 * Namespace finance requires providers labelled approved=true (residency); API keys
 * `tg-finance-key` (key:finance/ledger) and `tg-marketing-key` (key:marketing/web).
 */
export const RESIDENCY_IDENTITIES = `apiVersion: v1
kind: Namespace
metadata: { name: finance, labels: { require.tollgate.dev/approved: "true" } }
---
apiVersion: v1
kind: Secret
metadata: { name: ledger, namespace: finance, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-finance-key }
---
apiVersion: v1
kind: Secret
metadata: { name: web, namespace: marketing, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: tg-marketing-key }
`;
