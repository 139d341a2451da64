import type { Logger } from 'pino';
import { ensureInstallationSecretWithRetry, type OwnerReference } from '../kube/installation-secret.js';
import type { KubeClient } from '../kube/kube-client.js';
import { createCa, isCurrent, issueCertificate, type KeyPairPem } from './certificates.js';

/** Certificates of the push/pull channel live this long; rotate by deleting the Secrets (docs/security.md). */
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

/**
 * TLS for the operator↔data-plane channel with certificates the operator manages itself: a private
 * CA and the data planes' certificate are created once in Secrets of the release namespace (two
 * operator replicas racing agree on the first one written); the operator's own certificate is
 * issued from the CA in memory at every start.
 */
export async function ensureChannelTls(client: KubeClient, config: ManagedTlsConfig, logger: Logger, signal: AbortSignal): Promise<ChannelTls> {
  const caData = await ensureInstallationSecretWithRetry(
    client,
    { namespace: config.namespace, name: config.caSecret, ...(config.owner === undefined ? {} : { owner: config.owner }) },
    ['tls.crt', 'tls.key'],
    () => {
      const ca = createCa(commonName(`tollgate-channel-ca.${config.namespace}`), CHANNEL_CERT_DAYS);
      return { 'tls.crt': ca.cert, 'tls.key': ca.key };
    },
    logger,
    signal,
  );
  const ca: KeyPairPem = { cert: caData['tls.crt'] ?? '', key: caData['tls.key'] ?? '' };
  const dp = await ensureInstallationSecretWithRetry(
    client,
    { namespace: config.namespace, name: config.dataplaneSecret, ...(config.owner === undefined ? {} : { owner: config.owner }) },
    ['tls.crt', 'tls.key', 'ca.crt'],
    () => {
      const leaf = issueCertificate(ca, leafCommonName(config.dataplaneNames, 'tollgate-dataplane'), config.dataplaneNames, CHANNEL_CERT_DAYS);
      return { 'tls.crt': leaf.cert, 'tls.key': leaf.key, 'ca.crt': ca.cert };
    },
    logger,
    signal,
  );
  if (!isCurrent(dp['tls.crt'] ?? '', ca.cert, 30)) {
    // Not fixed here (the operator may only create Secrets, not rewrite them): pushes will fail
    // verification until someone deletes the data planes' Secret and restarts the operator.
    logger.error(
      { secret: `${config.namespace}/${config.dataplaneSecret}`, ca: `${config.namespace}/${config.caSecret}` },
      'the data planes\' certificate is not signed by the channel CA or expires within 30 days: delete its Secret and restart the operator to reissue it',
    );
  }
  return { ca: ca.cert, operator: issueCertificate(ca, leafCommonName(config.operatorNames, 'tollgate-operator'), config.operatorNames, CHANNEL_CERT_DAYS) };
}
