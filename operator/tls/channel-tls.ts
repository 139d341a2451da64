import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { TLS_FOLLOW_INTERVAL_MS } from '../../dataplane/config/tls-files.js';
import { ensureInstallationSecret, ensureInstallationSecretWithRetry, type InstallationSecretRef, type OwnerReference } from '../kube/installation-secret.js';
import type { KubeClient } from '../kube/kube-client.js';
import { createCa, isCurrent, issueCertificate, type KeyPairPem } from './certificates.js';

/** Certificates of the push/pull channel live this long; rotate by deleting the Secrets (docs/upgrade.md). */
export const CHANNEL_CERT_DAYS = 3650;

export interface ManagedTlsConfig {
  namespace: string;
  /** The CA (tls.crt, tls.key): only the operator reads it. */
  caSecret: string;
  /** The data planes' serving certificate and the CA they trust (tls.crt, tls.key, ca.crt): mounted by the data-plane pods. */
  dataplaneSecret: string;
  /** Names in the data planes' certificate (the operator verifies the first, the Service name). */
  dataplaneNames: string[];
  /** Names in the operator's own certificate (data planes call the operator's Service). */
  operatorNames: string[];
  /** Owner of the Secrets it creates (see serviceAccountOwner). */
  owner?: OwnerReference;
  /** How often the CA Secret is read again (followChannelCa; default TLS_FOLLOW_INTERVAL_MS). */
  followIntervalMs?: number;
  /** How long after a rotation a certificate of the new CA is served (default SERVE_ROTATED_CA_AFTER_MS). */
  serveRotatedAfterMs?: number;
}

export interface ChannelTls {
  /** The CA certificate both sides trust. */
  ca: string;
  /** The operator's serving certificate, issued at every start and never stored. */
  operator: KeyPairPem;
}

/** The DNS names a Service answers to inside the cluster. */
export function serviceNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

/** RFC 5280 ub-common-name: a longer CN makes a non-conforming certificate that strict parsers refuse. */
const MAX_COMMON_NAME = 64;

/** A CN is only a label for people here: clients check the SANs. Names are ASCII, so characters are bytes. */
const commonName = (label: string): string => label.slice(0, MAX_COMMON_NAME);

/**
 * The Service name alone (a DNS label, at most 63): the full `<service>.<namespace>.svc` passes 64
 * with a long namespace. Clients verify the names in the SANs, which keep every full name.
 */
const leafCommonName = (names: readonly string[], fallback: string): string => commonName(names[0]?.split('.')[0] ?? fallback);

type EnsureSecret = (ref: InstallationSecretRef, required: readonly string[], generate: () => Record<string, string>) => Promise<Record<string, string>>;

/**
 * The channel CA, and the data planes' certificate issued from it, each created when its Secret is
 * missing; `dataplaneCurrent` says whether the data planes' certificate is signed by this CA and
 * valid for 30 more days.
 */
async function channelCa(config: ManagedTlsConfig, ensure: EnsureSecret): Promise<{ ca: KeyPairPem; dataplaneCurrent: boolean }> {
  const owner = config.owner === undefined ? {} : { owner: config.owner };
  const caData = await ensure({ namespace: config.namespace, name: config.caSecret, ...owner }, ['tls.crt', 'tls.key'], () => {
    const ca = createCa(commonName(`tollgate-channel-ca.${config.namespace}`), CHANNEL_CERT_DAYS);
    return { 'tls.crt': ca.cert, 'tls.key': ca.key };
  });
  const ca: KeyPairPem = { cert: caData['tls.crt'] ?? '', key: caData['tls.key'] ?? '' };
  const dp = await ensure({ namespace: config.namespace, name: config.dataplaneSecret, ...owner }, ['tls.crt', 'tls.key', 'ca.crt'], () => {
    const leaf = issueCertificate(ca, leafCommonName(config.dataplaneNames, 'tollgate-dataplane'), config.dataplaneNames, CHANNEL_CERT_DAYS);
    return { 'tls.crt': leaf.cert, 'tls.key': leaf.key, 'ca.crt': ca.cert };
  });
  return { ca, dataplaneCurrent: isCurrent(dp['tls.crt'] ?? '', ca.cert, 30) };
}

function logNotCurrent(config: ManagedTlsConfig, logger: Logger): void {
  // Not fixed here (the operator may only create Secrets, not rewrite them): pushes will fail
  // verification until someone deletes the data planes' Secret (it is then made again).
  logger.error(
    { secret: `${config.namespace}/${config.dataplaneSecret}`, ca: `${config.namespace}/${config.caSecret}` },
    "the data planes' certificate is not signed by the channel CA or expires within 30 days: delete its Secret and the operator issues it again",
  );
}

const operatorCertificate = (ca: KeyPairPem, config: ManagedTlsConfig): KeyPairPem => issueCertificate(ca, leafCommonName(config.operatorNames, 'tollgate-operator'), config.operatorNames, CHANNEL_CERT_DAYS);

/**
 * TLS for the operator↔data-plane channel with certificates the operator manages itself: a private
 * CA and the data planes' certificate are created once in Secrets of the release namespace (two
 * operator replicas racing agree on the first one written); the operator's own certificate is
 * issued from the CA in memory at every start.
 */
export async function ensureChannelTls(client: KubeClient, config: ManagedTlsConfig, logger: Logger, signal: AbortSignal): Promise<ChannelTls> {
  const { ca, dataplaneCurrent } = await channelCa(config, (ref, required, generate) => ensureInstallationSecretWithRetry(client, ref, required, generate, logger, signal));
  if (!dataplaneCurrent) logNotCurrent(config, logger);
  return { ca: ca.cert, operator: operatorCertificate(ca, config) };
}

/**
 * How long after the operator sees a rotated CA it serves a certificate of it: running data-plane
 * pods trust the new CA only once the kubelet updated their mounted Secret (about a minute) and
 * they read it again (every minute). Pushes trust both CAs at once.
 */
export const SERVE_ROTATED_CA_AFTER_MS = 3 * 60_000;

export interface ChannelCaFollow {
  /** Trust this bundle (the new CA and the previous one) for pushes to the data planes. */
  trust(bundle: string): void;
  /** Serve this certificate (issued from the new CA) to the data planes. */
  serve(operator: KeyPairPem): void;
}

/**
 * Follows a rotation of the managed channel CA without a restart, as certificate files are followed
 * (dataplane/config/tls-files.ts): every interval the CA Secret is read again, and made again with
 * the data planes' Secret when they were deleted (the rotation: docs/upgrade.md). A new CA is
 * trusted at once together with the previous one (the data planes still present certificates of
 * the old one until their mounted Secret is updated), the previous one until the next rotation or a
 * restart; the operator serves a certificate of the new CA SERVE_ROTATED_CA_AFTER_MS later, once
 * the running data planes trust it. Before, the CA Secret was read only at start: a rotation needed
 * a restart of the operator, whose pushes then failed on every pod not yet serving the new
 * certificate, and whose other replicas kept the old CA until they restarted too. Returns the
 * function that stops it.
 */
export function followChannelCa(
  client: KubeClient,
  config: ManagedTlsConfig,
  current: string,
  apply: ChannelCaFollow,
  logger: Logger,
): () => void {
  const opts = { intervalMs: config.followIntervalMs, serveAfterMs: config.serveRotatedAfterMs };
  let trusted = current;
  /** The CA the served certificate is of, and the one a switch is scheduled to. */
  let served = current;
  let pending: { ca: string; timer: NodeJS.Timeout } | undefined;
  let reading = false;
  let lastError = '';
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    channelCa(config, (ref, required, generate) => ensureInstallationSecret(client, ref, required, generate))
      .then(({ ca, dataplaneCurrent }) => {
        lastError = '';
        if (ca.cert !== trusted) {
          new X509Certificate(ca.cert); // a Secret holding no certificate changes nothing
          apply.trust(`${ca.cert.trimEnd()}\n${trusted.trimEnd()}\n`);
          trusted = ca.cert;
          logger.info({ ca: `${config.namespace}/${config.caSecret}` }, 'channel CA rotated: trusting it (and the previous one until the next rotation)');
          if (!dataplaneCurrent) logNotCurrent(config, logger);
        }
        if (pending !== undefined && pending.ca !== ca.cert) {
          clearTimeout(pending.timer);
          pending = undefined;
        }
        // Only once the data planes' Secret holds a certificate of this CA (and so its ca.crt): with
        // the CA Secret deleted alone, the pods would trust the old CA only, and refuse the operator.
        if (ca.cert === served || pending !== undefined || !dataplaneCurrent) return;
        const timer = setTimeout(() => {
          pending = undefined;
          served = ca.cert;
          apply.serve(operatorCertificate(ca, config));
          logger.info({ ca: `${config.namespace}/${config.caSecret}` }, 'serving a certificate of the rotated channel CA');
        }, opts.serveAfterMs ?? SERVE_ROTATED_CA_AFTER_MS);
        timer.unref();
        pending = { ca: ca.cert, timer };
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) logger.warn({ ca: `${config.namespace}/${config.caSecret}`, err: message }, 'channel CA Secret not read; still trusting the current CA');
        lastError = message;
      })
      .finally(() => {
        reading = false;
      });
  }, opts.intervalMs ?? TLS_FOLLOW_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(pending?.timer);
  };
}
