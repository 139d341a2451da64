#!/usr/bin/env node
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { logDestination } from './log-destination.js';
import { devStateDir, readOrCreateSecretFile } from './dev-state.js';
import { newApiKeyHashKey } from '../dataplane/config/api-key-digest.js';
import { parseEgressAllowlist, splitEntries } from '../dataplane/config/egress-allowlist.js';
import { egressCompileInput, setEgressAllowlist } from '../dataplane/config/egress-guard.js';
import { readCaFile, readTlsFiles, type TlsMaterial } from '../dataplane/config/tls-files.js';
import { exactBudgetsFromEnv, governanceFromEnv } from '../dataplane/main/governance-from-env.js';
import { bodyLimitsFrom, createAuthenticator, responseBudgetFrom, launchDataplane, shutdownDeadlineMs, StartupError, thenFlush, TOLLGATE_VERSION, tracingFor } from '../dataplane/main/launch.js';
import { labelSelectorProblem } from '../operator/kube/secret-watch.js';

const USAGE = `Usage: tollgate <command> [options]

Commands:
  dev -f <dir|file>         Serve the OpenAI API from CRD manifests in <dir> (or one file); reload on change.
  dataplane                 Serve the OpenAI API with snapshots pushed by the operator (admin port).
  operator                  Reconcile Provider, ModelRoute and Budget objects and push snapshots.
  spend                     Print requests, errors, spend and tokens from UsageReport objects as a table
                            (the console's numbers; --by namespace|route|model|provider|caller --since 7d)
  compile -f <dir|file>     Print the snapshot and object status compiled from <dir> (credentials redacted).
  crds                      Print the CustomResourceDefinitions (pipe into kubectl apply -f -).
  --version                 Print the version.

Common options:
  --host <addr>             Listen address (dev: 127.0.0.1, others: 0.0.0.0)
  --port <n>                Listen port (dev/dataplane: 8080, operator: 9091)
  --log-level <level>       pino level (default info; env LOG_LEVEL)
  --token-file <path>       Admin token shared by operator and data planes (env TOLLGATE_ADMIN_TOKEN)
  --metrics-token-file <path>  A read-only token GET /metrics also accepts, for Prometheus (env TOLLGATE_METRICS_TOKEN)
  --otlp-endpoint <url>     Export traces over OTLP/HTTP to <url>/v1/traces (env OTEL_EXPORTER_OTLP_ENDPOINT;
                            tracing is off when neither is set; OTEL_* variables: docs/observability.md)
  --egress-allow-hosts <a,b>  The only hosts tenants' URLs may reach (names, or *.suffixes for the names below;
                            env TOLLGATE_EGRESS_ALLOW_HOSTS). With --egress-allow-cidrs: the platform's egress
                            allowlist (docs/security.md); without either, all but link-local and metadata
  --egress-allow-cidrs <a,b>  The only networks tenants' URLs may reach (10.244.0.0/16; env TOLLGATE_EGRESS_ALLOW_CIDRS)

dev and dataplane:
  --max-body-bytes <n>      Largest request body, decompressed (default 10485760 = 10 MiB; larger: 413)
  --max-inflight-body-bytes <n>  Bytes of request bodies held at once by the process, each until its
                            response ends (default 67108864 = 64 MiB; over it: 503 with retry-after)
  --max-inflight-response-bytes <n>  Bytes of upstream answers over 256 KiB read whole (not streams) held at
                            once by the process, each until written (default 134217728 = 128 MiB; over it: 503 with retry-after)
  --drain-timeout <s>       Seconds SIGTERM waits for in-flight streams (default 30)
  --kubeconfig <path>       API server for TokenReview (dev: with --auth; dataplane default: env KUBECONFIG,
                            else the pod's own ServiceAccount; with neither, ServiceAccount tokens get 401
                            and a warning is logged)
  --auth-cache-ttl <s>      Longest a verified ServiceAccount token is trusted (default 60)
  --max-json-elements <n>   Most objects, arrays and object members in a JSON request body
                            (default 100000; over it: 400 json_too_many_elements)
  Rate limits and the response cache read TOLLGATE_REDIS_URL, TOLLGATE_RATE_LIMIT_*, TOLLGATE_CACHE_*
  and exact budgets TOLLGATE_BUDGET_MODE from the environment: docs/rate-limits-and-cache.md#settings-read-once-at-startup
  (the chart's values and the variables they set: docs/configuration.md)

dataplane:
  --admin-port <n>          Admin port: snapshot pushes, probes, GET /metrics (default 9090)
  --operator-url <url>      Pull the current snapshot from the operator at start (env TOLLGATE_OPERATOR_URL)
  --snapshot <file>         Start from a compiled snapshot file instead
  --admin-tls-cert/-key <f> Serve the admin port (snapshot pushes) over TLS
  --operator-ca <file>      CA of the operator's certificate, for an https --operator-url (read again every
                            minute: a new CA is trusted with the previous one until the next change)
  --operator-tls-server-name <n>  Name the operator's certificate carries (default: the host of --operator-url)
  --require-identity        Not ready (/readyz 503) without TokenReview access (the chart sets it unless
                            dataplane.serviceAccount.automountToken is false)

dev:
  --auth                    Enforce caller identity and route access (default: every caller may use every route)
  --admin-port <n>          Also serve an admin port with probes, GET /metrics, POST /debug/route and the console at /console/ (default: none);
                            its token is kept in <state dir>/admin-token, the API key hash key in <state dir>/api-key-hash-key
                            (state dir: TOLLGATE_STATE_DIR, else $XDG_STATE_HOME/tollgate, else ~/.local/state/tollgate)

operator:
  --kubeconfig <path>       Default: env KUBECONFIG, else in-cluster
  --watch-namespaces <a,b>  Default: all namespaces (env WATCH_NAMESPACES)
  --secret-label-selector <s> Read only Secrets with these labels, e.g. tollgate.dev/use=true (env SECRET_LABEL_SELECTOR;
                            default: all but Helm releases and ServiceAccount tokens)
  --dataplane-namespace <n> Namespace of the data-plane Service (env POD_NAMESPACE, default "default")
  --dataplane-service <n>   Data-plane Service whose EndpointSlices list the pods (default tollgate-dataplane)
  --identity <id>           Leader-election identity (env POD_NAME, default hostname)
  --previous-token-file <path>  During an admin-token rotation: the previous token, also accepted from data
                            planes (usage reports, snapshot pulls); a missing or empty file is none
                            (env TOLLGATE_PREVIOUS_ADMIN_TOKEN; docs/upgrade.md)
  --lease-name <name>       Leader-election Lease in the data-plane namespace (default tollgate-operator)
  --legacy-lease-name <n>   A Lease older replicas of this installation lead under (a renamed --lease-name):
                            also held while leading, so that old and new replicas never both lead
  --api-key-hash-secret <n> Secret (data-plane namespace, data key "key") with the installation's key for client
                            API key HMACs; created when missing (default tollgate-api-key-hash)
  --tls-cert/--tls-key <f>  Serve the operator port (snapshot pull, usage reports) over TLS
  --dataplane-ca <file>     Push to data planes over TLS, trusting this CA (read again every minute, as --operator-ca)
  --dataplane-tls-server-name <n>  Name the pods' certificates carry (default <service>.<namespace>.svc)
  --managed-tls             TLS on the channel with certificates the operator manages: a CA in Secret
                            <prefix>-ca, the data planes' certificate in <prefix>-dataplane-tls (tls.crt,
                            tls.key, ca.crt; created when missing), its own issued at start
  --tls-secret-prefix <p>   Prefix of those Secrets in the data-plane namespace (default tollgate)
  --operator-service <n>    The operator's Service, named in its certificate (default tollgate-operator)
  --owner-service-account <n>  The operator's ServiceAccount: owner of the Secrets it creates, which then go
                            with it (helm uninstall); default: no owner, the Secrets stay
  --usage-retention-days <n>  Days of UsageReport objects kept (default 30; env TOLLGATE_USAGE_RETENTION_DAYS)
  --usage-flush-interval <s>  Seconds between UsageReport writes (default 5)
  --usage-top-callers <n>   Callers a UsageReport keeps by name, the rest summed (default 10, at most 25)
  --guardrail-events-interval <s>  Seconds between two aggregated decision Events of one GuardrailPolicy
                            (default 60; env TOLLGATE_GUARDRAIL_EVENTS_INTERVAL)
  --retention-interval <s>  Seconds between two retention sweeps of one DataPolicy (default 600;
                            env TOLLGATE_RETENTION_INTERVAL)
  --retention-max-deletes <n>  Objects one sweep deletes per destination, at most (default 10000)

spend (reads UsageReports with your credentials: your RBAC decides what you see):
  --by <dimension>          namespace (default), route, model, provider or caller
  --since <Nd|YYYY-MM-DD>   The last N days, today included (UTC), or from that day on (default 7d)
  -n, --namespace <ns>      One namespace (default: every namespace the credentials may list)
  --kubeconfig <path>       Default: env KUBECONFIG, else ~/.kube/config, else the pod's ServiceAccount
  --context <name>          kubeconfig context (default: its current context)
  --console <url>           Read through a console instead: tollgate dev's admin port, or the operator's port
  --token-file <path>       With --console: the bearer token (tollgate dev: its admin-token file;
                            the operator: a Kubernetes token, e.g. from kubectl create token)
  -o, --output <format>     table (default) or json
`;

const USAGE_HINT = "Run 'tollgate --help' for the commands and their options.";

/** A usage mistake: what is wrong on one line, where to look next, exit 2 (no stack, no page of usage). */
function fail(message: string): never {
  process.stderr.write(`tollgate: ${message}\n${USAGE_HINT}\n`);
  process.exit(2);
}

const COMMANDS: readonly string[] = ['dev', 'dataplane', 'operator', 'spend', 'compile', 'crds'];

/** -f: a directory of manifests or one manifest file (kubectl -f takes both); anything else is a usage error. */
function manifestsAt(path: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    fail(`-f ${path}: no such file or directory`);
  }
  if (!stats.isDirectory() && !stats.isFile()) fail(`-f ${path}: not a directory or a file`);
}

/** The options of every command, for parseArgs. */
const OPTIONS = {
  file: { type: 'string', short: 'f' },
  snapshot: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'drain-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  'token-file': { type: 'string' },
  'metrics-token-file': { type: 'string' },
  'previous-token-file': { type: 'string' },
  'admin-port': { type: 'string' },
  'operator-url': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'egress-allow-hosts': { type: 'string' },
  'egress-allow-cidrs': { type: 'string' },
  kubeconfig: { type: 'string' },
  'watch-namespaces': { type: 'string' },
  'secret-label-selector': { type: 'string' },
  'dataplane-namespace': { type: 'string' },
  'dataplane-service': { type: 'string' },
  identity: { type: 'string' },
  'admin-tls-cert': { type: 'string' },
  'admin-tls-key': { type: 'string' },
  'operator-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'dataplane-ca': { type: 'string' },
  'dataplane-tls-server-name': { type: 'string' },
  'lease-name': { type: 'string' },
  'legacy-lease-name': { type: 'string' },
  'api-key-hash-secret': { type: 'string' },
  'managed-tls': { type: 'boolean' },
  'tls-secret-prefix': { type: 'string' },
  'operator-service': { type: 'string' },
  'owner-service-account': { type: 'string' },
  'operator-tls-server-name': { type: 'string' },
  auth: { type: 'boolean' },
  'require-identity': { type: 'boolean' },
  'auth-cache-ttl': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-inflight-body-bytes': { type: 'string' },
  'max-inflight-response-bytes': { type: 'string' },
  'max-json-elements': { type: 'string' },
  'usage-retention-days': { type: 'string' },
  'usage-flush-interval': { type: 'string' },
  'usage-top-callers': { type: 'string' },
  'guardrail-events-interval': { type: 'string' },
  by: { type: 'string' },
  since: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  context: { type: 'string' },
  console: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'retention-interval': { type: 'string' },
  'retention-max-deletes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The options after the command, or the mistake as a usage error (parseArgs throws a TypeError with a stack). */
function parseOptions(command: string, args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: false }).values;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const positional = /^Unexpected argument '(.*)'/.exec((err as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && positional !== undefined) {
      fail(`unexpected argument ${positional}${command === 'dev' || command === 'compile' ? ` (the manifests go after -f: tollgate ${command} -f ${positional})` : ''}`);
    }
    // "Unknown option '--prot'. To specify a positional argument starting with a '-', ...": the first sentence says it.
    fail(`${command}: ${((err as Error).message.split('. ')[0] ?? '').replace(/^Unknown option/, 'unknown option')}`);
  }
}

/** A positive whole number from a flag, or undefined when the flag is absent. */
function guardrailEventsOption(seconds: string | undefined): { guardrailEventsIntervalMs?: number } {
  const n = positiveInt(seconds, '--guardrail-events-interval');
  return n === undefined ? {} : { guardrailEventsIntervalMs: n * 1000 };
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a whole number of at least 1`);
  return n;
}

function usageHistoryOptions(retention: string | undefined, interval: string | undefined, top: string | undefined): { retentionDays?: number; flushIntervalMs?: number; topCallers?: number } {
  const retentionDays = positiveInt(retention, '--usage-retention-days');
  const seconds = positiveInt(interval, '--usage-flush-interval');
  const topCallers = positiveInt(top, '--usage-top-callers');
  if (topCallers !== undefined && topCallers > 25) fail('--usage-top-callers must be at most 25');
  return {
    ...(retentionDays === undefined ? {} : { retentionDays }),
    ...(seconds === undefined ? {} : { flushIntervalMs: seconds * 1000 }),
    ...(topCallers === undefined ? {} : { topCallers }),
  };
}

function retentionOptions(interval: string | undefined, maxDeletes: string | undefined): { intervalMs?: number; maxDeletesPerPass?: number } {
  const seconds = positiveInt(interval, '--retention-interval');
  const deletes = positiveInt(maxDeletes, '--retention-max-deletes');
  return { ...(seconds === undefined ? {} : { intervalMs: seconds * 1000 }), ...(deletes === undefined ? {} : { maxDeletesPerPass: deletes }) };
}

/** A certificate and key read from files, both or neither; the server follows the files (a renewed certificate is served without a restart). */
function tlsPair(cert: string | undefined, key: string | undefined, flag: string): { tls?: TlsMaterial } {
  if (cert === undefined && key === undefined) return {};
  if (cert === undefined || key === undefined) fail(`${flag}-cert and ${flag}-key go together`);
  return { tls: readTlsFiles({ cert, key }) };
}

function readToken(file: string | undefined, variable = 'TOLLGATE_ADMIN_TOKEN'): string | undefined {
  if (file !== undefined) return readFileSync(file, 'utf8').trim();
  const env = process.env[variable];
  return env === undefined || env === '' ? undefined : env;
}

/** Shorter admin tokens are refused at start: guessable, and an empty one (an empty Secret key) fails every push unseen. */
const MIN_ADMIN_TOKEN_CHARS = 16;

/** The admin token a data plane or the operator serves with, if one is given, checked. */
function readAdminToken(file: string | undefined): string | undefined {
  const token = readToken(file);
  if (token !== undefined && token.length < MIN_ADMIN_TOKEN_CHARS) {
    fail(`${file === undefined ? 'TOLLGATE_ADMIN_TOKEN' : '--token-file'}: the admin token must have at least ${MIN_ADMIN_TOKEN_CHARS} characters (it has ${token.length})`);
  }
  return token;
}

/**
 * The admin token before a rotation, accepted besides the current one. A missing file is no token:
 * the chart mounts the Secret's `previous` key optionally, and it is absent outside a rotation.
 */
function readPreviousToken(file: string | undefined, current: string): string | undefined {
  if (file !== undefined && !existsSync(file)) return undefined;
  const token = readToken(file, 'TOLLGATE_PREVIOUS_ADMIN_TOKEN');
  if (token === undefined || token === '' || token === current) return undefined;
  if (token.length < MIN_ADMIN_TOKEN_CHARS) fail(`--previous-token-file: the previous admin token must have at least ${MIN_ADMIN_TOKEN_CHARS} characters (it has ${token.length})`);
  return token;
}

/** The operator's Secret label selector, checked: a bad one would leave the Secrets watch failing unseen. */
function secretSelectorOption(selector: string | undefined): { secretLabelSelector?: string } {
  const s = selector?.trim() ?? '';
  if (s === '') return {};
  const problem = labelSelectorProblem(s);
  if (problem !== undefined) fail(`--secret-label-selector ${problem}`);
  return { secretLabelSelector: s };
}

/** The read-only token for GET /metrics, if one is given; one equal to the admin token is no separate token. */
function readMetricsToken(file: string | undefined, admin: string | undefined): string | undefined {
  const token = readToken(file, 'TOLLGATE_METRICS_TOKEN');
  if (token !== undefined && token.length < 16) fail('--metrics-token-file: the token must have at least 16 characters');
  return token === admin ? undefined : token;
}

function parsePort(value: string | undefined): number {
  const port = Number(value ?? '8080');
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, got ${value}`);
  return port;
}

/** The operator's stop and span flush together: well inside the default 30 s grace period of its pods. */
const OPERATOR_SHUTDOWN_MS = 10_000;

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

/** `tollgate spend`: the console's breakdown as a table, from the same UsageReport objects. */
async function spend(values: { by?: string; since?: string; namespace?: string; kubeconfig?: string; context?: string; console?: string; 'token-file'?: string; output?: string }): Promise<void> {
  const { consoleReader, explainRefusal, kubeReader, parseBy, parseSince, ReadRefused, renderJson, renderTable, spendReports } = await import('./spend-command.js');
  const { printable } = await import('./printable.js');
  const by = parseBy(values.by);
  if ('error' in by) fail(by.error);
  const span = parseSince(values.since ?? '7d', Date.now());
  if ('error' in span) fail(span.error);
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') fail(`--output takes table or json, got "${output}"`);
  const query = { ...by, ...span, ...(values.namespace === undefined ? {} : { namespace: values.namespace }) };
  let source: { read: Parameters<typeof spendReports>[0]; close: () => Promise<void> };
  try {
    if (values.console !== undefined) {
      const token = readToken(values['token-file']);
      if (token === undefined) fail('--console needs --token-file (or TOLLGATE_ADMIN_TOKEN)');
      source = { read: consoleReader(values.console, token), close: async () => undefined };
    } else {
      source = await kubeReader(values.kubeconfig, values.context);
    }
  } catch (err) {
    process.stderr.write(`tollgate spend: ${(err as Error).message}\n`);
    process.exit(1);
  }
  try {
    const reports = await spendReports(source.read, query);
    process.stdout.write(output === 'json' ? renderJson(query, reports) : renderTable(query, reports));
  } catch (err) {
    // A JSON error quotes what the server sent: escaped like a refusal.
    process.stderr.write(`tollgate spend: ${err instanceof ReadRefused ? explainRefusal(err, query.namespace) : printable((err as Error).message)}\n`);
    process.exitCode = 1;
  } finally {
    await source.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  // `tollgate --help` / `-h` ask for the usage, like `tollgate help`.
  const command = first === '--help' || first === '-h' ? 'help' : first;
  if (command === 'help' || command === undefined) {
    // `tollgate help dev` too: there is one page of usage.
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`tollgate ${TOLLGATE_VERSION}\n`);
    return;
  }
  if (!COMMANDS.includes(command)) fail(`unknown command ${command}`);
  const values = parseOptions(command, rest);
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const level = values['log-level'] ?? process.env.LOG_LEVEL ?? 'info';
  // pino throws on an unknown level, from deep inside its constructor.
  if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
    fail(`${values['log-level'] === undefined ? 'LOG_LEVEL' : '--log-level'} must be one of ${Object.keys(pino.levels.values).join(', ')} or silent, got "${level}"`);
  }
  // Asynchronous, batched writes (cli/log-destination.ts), flushed when the process exits.
  const logger = pino({ level }, logDestination());
  // Before anything connects or compiles: every tenant's URL is checked against it (egress-guard.ts).
  const egress = parseEgressAllowlist(splitEntries(values['egress-allow-hosts'] ?? process.env.TOLLGATE_EGRESS_ALLOW_HOSTS), splitEntries(values['egress-allow-cidrs'] ?? process.env.TOLLGATE_EGRESS_ALLOW_CIDRS));
  if (!egress.ok) fail(`--egress-allow-hosts/--egress-allow-cidrs: ${egress.error}`);
  setEgressAllowlist(egress.allowlist);
  const drainTimeoutMs = Number(values['drain-timeout'] ?? '30') * 1000;
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) fail('--drain-timeout must be a number of seconds');

  switch (command) {
    case 'dev': {
      if (values.file === undefined) fail('dev needs -f <dir>');
      manifestsAt(values.file);
      const auth = values.auth === true ? createAuthenticator(values.kubeconfig, values['auth-cache-ttl'], logger, process.env) : undefined;
      // Only the data plane runs in dev (no operator spans): its own lean tracer.
      const tracing = await tracingFor(values['otlp-endpoint'], 'tollgate', process.env, 'dataplane', logger);
      const stateDir = devStateDir(process.env);
      const apiKeyHashKey = readOrCreateSecretFile(stateDir, 'api-key-hash-key', newApiKeyHashKey).value;
      const adminToken = values['admin-port'] === undefined ? undefined : readOrCreateSecretFile(stateDir, 'admin-token', newApiKeyHashKey);
      // dev, compile and crds load the operator's compiler, manifest reader and CRD renderer when run:
      // a data-plane pod (`tollgate dataplane`) never holds them.
      const { startDev } = await import('./dev-command.js');
      const gateway = await startDev({
        dir: values.file,
        host: values.host ?? '127.0.0.1',
        port: parsePort(values.port),
        drainTimeoutMs,
        logger,
        ...(auth === undefined ? {} : { auth }),
        ...(tracing === undefined ? {} : { tracer: tracing.tracer }),
        ...(values['admin-port'] === undefined ? {} : { adminPort: parsePort(values['admin-port']) }),
        ...(adminToken === undefined ? {} : { adminToken: adminToken.value }),
        apiKeyHashKey,
        governance: await governanceFromEnv(process.env, logger),
        ...bodyLimitsFrom(values),
        ...responseBudgetFrom(values),
      });
      onSignals(thenFlush(gateway.stop, tracing, shutdownDeadlineMs(drainTimeoutMs)));
      if (adminToken !== undefined) {
        logger.info({ adminUrl: gateway.adminUrl, tokenFile: adminToken.path }, 'admin port: send the token in the file as a bearer token');
        logger.info({ consoleUrl: `${gateway.adminUrl ?? ''}/console/`, tokenFile: adminToken.path }, 'console: open it and paste the token in the file');
      }
      const { devBanner } = await import('./dev-banner.js');
      process.stderr.write(devBanner(values.file, gateway.url, gateway.dataplane.store.current?.snapshot.routes.map((r) => r.model), values.auth === true));
      return;
    }
    case 'dataplane': {
      const host = values.host ?? '0.0.0.0';
      const token = readAdminToken(values['token-file']);
      const metricsToken = readMetricsToken(values['metrics-token-file'], token);
      const operatorUrl = values['operator-url'] ?? process.env.TOLLGATE_OPERATOR_URL;
      const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
      const { stop } = await launchDataplane({
        host,
        port: parsePort(values.port),
        drainTimeoutMs,
        logger,
        env: process.env,
        ...(kubeconfig === undefined ? {} : { kubeconfig }),
        ...(values['auth-cache-ttl'] === undefined ? {} : { authCacheTtl: values['auth-cache-ttl'] }),
        requireIdentity: values['require-identity'] === true,
        ...(values['otlp-endpoint'] === undefined ? {} : { otlpEndpoint: values['otlp-endpoint'] }),
        ...bodyLimitsFrom(values),
        ...responseBudgetFrom(values),
        ...(token === undefined ? {} : { admin: { port: parsePort(values['admin-port'] ?? '9090'), token, ...(metricsToken === undefined ? {} : { metricsToken }), ...tlsPair(values['admin-tls-cert'], values['admin-tls-key'], '--admin-tls') } }),
        ...(values['operator-ca'] === undefined ? {} : { operatorCa: readCaFile(values['operator-ca']) }),
        ...(values['operator-tls-server-name'] === undefined ? {} : { operatorServerName: values['operator-tls-server-name'] }),
        ...(operatorUrl === undefined ? {} : { operatorUrl }),
        ...(values.snapshot === undefined ? {} : { snapshotFile: values.snapshot }),
      });
      onSignals(stop);
      return;
    }
    case 'operator': {
      const token = readAdminToken(values['token-file']);
      if (token === undefined) fail('operator needs --token-file (or TOLLGATE_ADMIN_TOKEN)');
      const metricsToken = readMetricsToken(values['metrics-token-file'], token);
      const previousToken = readPreviousToken(values['previous-token-file'], token);
      if (previousToken !== undefined) logger.warn('the previous admin token is accepted too (a rotation is under way): remove it once every data plane has restarted');
      const dataplaneNamespace = values['dataplane-namespace'] ?? process.env.POD_NAMESPACE ?? 'default';
      const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
      const tracing = await tracingFor(values['otlp-endpoint'], 'tollgate-operator', process.env, 'operator');
      // Loaded here so that a data plane never pays for the Kubernetes client (about 85 MB).
      const { runOperator } = await import('../operator/operator.js');
      const { serviceNames } = await import('../operator/tls/channel-tls.js');
      const exactBudgets = await exactBudgetsFromEnv(process.env, logger);
      const operator = await runOperator({
        ...(exactBudgets === undefined ? {} : { exactBudgets: { redis: exactBudgets.client, keyPrefix: exactBudgets.keyPrefix } }),
        ...(kubeconfig === undefined ? {} : { kubeconfig }),
        watchNamespaces: (values['watch-namespaces'] ?? process.env.WATCH_NAMESPACES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
        ...secretSelectorOption(values['secret-label-selector'] ?? process.env.SECRET_LABEL_SELECTOR),
        dataplane: { namespace: dataplaneNamespace, service: values['dataplane-service'] ?? 'tollgate-dataplane', adminPortName: 'admin' },
        token,
        ...(previousToken === undefined ? {} : { previousToken }),
        ...(metricsToken === undefined ? {} : { metricsToken }),
        identity: values.identity ?? process.env.POD_NAME ?? hostname(),
        lease: { namespace: dataplaneNamespace, name: values['lease-name'] ?? 'tollgate-operator', ...(values['legacy-lease-name'] ? { legacyName: values['legacy-lease-name'] } : {}), durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
        apiKeyHashSecret: { namespace: dataplaneNamespace, name: values['api-key-hash-secret'] ?? 'tollgate-api-key-hash' },
        ...(values['owner-service-account'] === undefined ? {} : { ownerServiceAccount: values['owner-service-account'] }),
        listen: { host: values.host ?? '0.0.0.0', port: parsePort(values.port ?? '9091'), ...tlsPair(values['tls-cert'], values['tls-key'], '--tls') },
        ...(values['managed-tls'] === true
          ? {
              managedTls: {
                namespace: dataplaneNamespace,
                caSecret: `${values['tls-secret-prefix'] ?? 'tollgate'}-ca`,
                dataplaneSecret: `${values['tls-secret-prefix'] ?? 'tollgate'}-dataplane-tls`,
                dataplaneNames: serviceNames(values['dataplane-service'] ?? 'tollgate-dataplane', dataplaneNamespace),
                operatorNames: serviceNames(values['operator-service'] ?? 'tollgate-operator', dataplaneNamespace),
              },
            }
          : {}),
        ...(values['dataplane-ca'] === undefined
          ? {}
          : {
              dataplaneTls: {
                ca: readFileSync(values['dataplane-ca'], 'utf8'),
                caFile: values['dataplane-ca'],
                serverName: values['dataplane-tls-server-name'] ?? `${values['dataplane-service'] ?? 'tollgate-dataplane'}.${dataplaneNamespace}.svc`,
              },
            }),
        usageHistory: usageHistoryOptions(values['usage-retention-days'] ?? process.env.TOLLGATE_USAGE_RETENTION_DAYS, values['usage-flush-interval'], values['usage-top-callers']),
        retention: retentionOptions(values['retention-interval'] ?? process.env.TOLLGATE_RETENTION_INTERVAL, values['retention-max-deletes']),
        ...guardrailEventsOption(values['guardrail-events-interval'] ?? process.env.TOLLGATE_GUARDRAIL_EVENTS_INTERVAL),
        debounceMs: 100,
        maxWaitMs: 1_000,
        logger,
        ...(tracing === undefined ? {} : { tracer: tracing.tracer }),
      });
      logger.info({ port: operator.address.port }, 'operator running');
      onSignals(
        thenFlush(
          async () => {
            await operator.stop();
            return { drained: true };
          },
          tracing,
          OPERATOR_SHUTDOWN_MS,
        ),
      );
      return;
    }
    case 'compile': {
      if (values.file === undefined) fail('compile needs -f <dir>');
      manifestsAt(values.file);
      const [{ compile }, { readManifestDir }, { formatManifestError, loadManifests }] = await Promise.all([
        import('../operator/compile/compile.js'),
        import('../operator/sources/directory-source.js'),
        import('../operator/sources/manifest-loader.js'),
      ]);
      const loaded = loadManifests(readManifestDir(values.file));
      if (loaded.errors.length > 0) {
        for (const e of loaded.errors) process.stderr.write(`${formatManifestError(e)}\n`);
        process.exit(1);
      }
      // A throwaway hash key: the output shows which API keys compiled, never their digests.
      const { snapshot, statuses } = compile({ ...loaded.input, apiKeyHashKey: newApiKeyHashKey(), ...egressCompileInput() });
      // Credentials are SecretValues: JSON.stringify writes them as "[redacted]".
      process.stdout.write(`${JSON.stringify({ snapshot, statuses }, null, 2)}\n`);
      return;
    }
    case 'spend':
      await spend(values);
      return;
    case 'crds':
      const { renderCrdFiles } = await import('../operator/api/crd-yaml.js');
      process.stdout.write(renderCrdFiles().map((f) => f.content).join('---\n'));
      return;
    default:
      fail(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof StartupError) fail(err.message);
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
    const { address, port } = err as { address?: string; port?: number };
    const what = code === 'EADDRINUSE' ? 'is in use (another tollgate?)' : code === 'EACCES' ? 'needs privileges this process lacks' : 'is not an address of this machine';
    process.stderr.write(`tollgate: cannot listen on ${address ?? ''}:${port ?? ''}: the ${code === 'EADDRNOTAVAIL' ? 'address' : 'port'} ${what}; choose another with --port or --host\n`);
    process.exit(1);
  }
  // A system error (a file that cannot be read, ...) says all in its message; anything else is a
  // bug, whose stack is what a report needs.
  process.stderr.write(`tollgate: ${err instanceof Error ? (typeof code === 'string' ? err.message : (err.stack ?? err.message)) : String(err)}\n`);
  process.exit(1);
});
