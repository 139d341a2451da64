#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Dataplane } from '../dataplane/dataplane.js';
import { renderCrdFiles } from '../operator/api/crd-yaml.js';
import { compile } from '../operator/compile/compile.js';
import { readManifestDir } from '../operator/sources/directory-source.js';
import { formatManifestError, loadManifests } from '../operator/sources/manifest-loader.js';
import { startDev } from './dev-command.js';

const USAGE = `Usage: tollgate <command> [options]

Commands:
  dev -f <dir>              Serve the OpenAI API from CRD manifests in <dir>; reload on change.
  dataplane --snapshot <f>  Serve a compiled snapshot (JSON) without a cluster.
  compile -f <dir>          Print the snapshot and object status compiled from <dir> (keys redacted).
  crds                      Print the CustomResourceDefinitions (pipe into kubectl apply -f -).
  operator                  Reconcile CRDs from a cluster (not in this build yet).

Options:
  --host <addr>             Listen address (dev: 127.0.0.1, dataplane: 0.0.0.0)
  --port <n>                Listen port (default 8080)
  --drain-timeout <s>       Seconds SIGTERM waits for in-flight streams (default 30)
  --log-level <level>       pino level (default info; env LOG_LEVEL)
`;

function fail(message: string): never {
  process.stderr.write(`tollgate: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parsePort(value: string | undefined): number {
  const port = Number(value ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, got ${value}`);
  return port;
}

function onSignals(stop: () => Promise<{ drained: boolean }>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`tollgate: ${signal}: draining\n`);
    stop().then(
      ({ drained }) => process.exit(drained ? 0 : 1),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string', short: 'f' },
      snapshot: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help === true || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const logger = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });
  const drainTimeoutMs = Number(values['drain-timeout'] ?? '30') * 1000;
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) fail('--drain-timeout must be a number of seconds');

  switch (command) {
    case 'dev': {
      if (values.file === undefined) fail('dev needs -f <dir>');
      const gateway = await startDev({ dir: values.file, host: values.host ?? '127.0.0.1', port: parsePort(values.port), drainTimeoutMs, logger });
      onSignals(gateway.stop);
      process.stderr.write(
        `\nTollgate is serving ${values.file} at ${gateway.url}\nTry:\n  curl -s ${gateway.url}/v1/chat/completions -H 'content-type: application/json' \\\n    -d '{"model":"mock-chat","messages":[{"role":"user","content":"Hello!"}]}'\n\n`,
      );
      return;
    }
    case 'dataplane': {
      if (values.snapshot === undefined) fail('dataplane needs --snapshot <file> until the operator push lands');
      const dataplane = new Dataplane({ host: values.host ?? '0.0.0.0', port: parsePort(values.port), logger, drainTimeoutMs });
      const applied = dataplane.store.apply(JSON.parse(readFileSync(values.snapshot, 'utf8')));
      if (!applied.ok) fail(applied.error);
      const address = await dataplane.start();
      logger.info({ port: address.port, version: applied.version }, 'data plane serving');
      onSignals(() => dataplane.shutdown());
      return;
    }
    case 'compile': {
      if (values.file === undefined) fail('compile needs -f <dir>');
      const loaded = loadManifests(readManifestDir(values.file));
      if (loaded.errors.length > 0) {
        for (const e of loaded.errors) process.stderr.write(`${formatManifestError(e)}\n`);
        process.exit(1);
      }
      const { snapshot, statuses } = compile(loaded.input);
      const redacted = { ...snapshot, providers: snapshot.providers.map((p) => (p.apiKey === undefined ? p : { ...p, apiKey: '<redacted>' })) };
      process.stdout.write(`${JSON.stringify({ snapshot: redacted, statuses }, null, 2)}\n`);
      return;
    }
    case 'crds':
      process.stdout.write(renderCrdFiles().map((f) => f.content).join('---\n'));
      return;
    case 'operator':
      fail('the operator is not part of this build yet (tracked as the operator issue); use `tollgate dev -f <dir>`');
      break;
    default:
      fail(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`tollgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
