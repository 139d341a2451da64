import type { DataPolicy } from '../api/data-policy.js';
import { s3Credentials, secretLookup } from '../compile/compile-data-policies.js';
import type { SecretInput } from '../compile/types.js';
import { S3Error, S3Store } from './s3-store.js';

type Destination = DataPolicy['spec']['destinations'][number];

/** Whether one destination can take records, in words for status (never a credential). */
export interface DestinationReadiness {
  name: string;
  ready: boolean;
  reason: string;
  message: string;
}

/** An s3 destination with its credentials: what the sweep works on. */
export interface S3Target {
  name: string;
  store: S3Store;
  root: string;
}

/**
 * Checks one destination the way the data plane will use it: an s3 destination's Secret must hold
 * both keys and the bucket must answer a listing of the prefix with them (what writing and the
 * sweep need); an OTLP endpoint needs only to be configured (its deliveries are counted by the data
 * plane's tollgate_capture_* metrics); a local directory exists only for `tollgate dev`.
 */
export async function checkDestination(d: Destination, namespace: string, secrets: readonly SecretInput[]): Promise<{ readiness: DestinationReadiness; s3?: S3Target }> {
  const verdict = (ready: boolean, reason: string, message: string): DestinationReadiness => ({ name: d.name, ready, reason, message });
  if (d.otlpLogs !== undefined) {
    return { readiness: verdict(true, 'EndpointConfigured', `records are sent to ${d.otlpLogs.endpoint.replace(/\/+$/, '')}/v1/logs`) };
  }
  if (d.s3 === undefined) return { readiness: verdict(false, 'NotSupported', 'only tollgate dev writes to a local directory') };
  const credentials = s3Credentials(d.s3.credentialsSecretRef, namespace, secretLookup(secrets));
  if ('problem' in credentials) return { readiness: verdict(false, 'SecretNotFound', credentials.problem) };
  const store = new S3Store({ endpoint: d.s3.endpoint.replace(/\/+$/, ''), bucket: d.s3.bucket, region: d.s3.region }, credentials, 10_000);
  const root = d.s3.prefix.replace(/\/+$/, '');
  const secretName = `Secret ${namespace}/${d.s3.credentialsSecretRef.name}`;
  try {
    await store.probe(root === '' ? '' : `${root}/`);
    return { readiness: verdict(true, 'BucketReachable', `bucket ${d.s3.bucket} at ${d.s3.endpoint.replace(/\/+$/, '')} answers with the credentials of ${secretName}`), s3: { name: d.name, store, root } };
  } catch (err) {
    if (!(err instanceof S3Error)) throw err;
    const reason = err.status === 0 ? 'Unreachable' : err.code === 'NoSuchBucket' ? 'BucketNotFound' : err.status === 403 ? 'AccessDenied' : 'BucketError';
    const hint = err.status === 403 ? ` (check the access key pair in ${secretName})` : '';
    return { readiness: verdict(false, reason, `${err.message}${hint}`) };
  }
}
