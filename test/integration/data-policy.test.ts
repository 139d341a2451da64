import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secret } from '../../dataplane/config/secret-value.js';
import { s3Destination } from '../../dataplane/policy/capture/destinations/s3.js';
import { lineGroups } from '../../dataplane/policy/capture/line-batch.js';
import { type S3Server, startS3 } from '../s3/seaweedfs.js';
import { storedRecord } from '../support/capture-records.js';
import { applyOrRefusal, type Conditioned, conditionOf, dataplaneService, eventually, POD_NET, type Proc, startDataplane, startOperator, startTestCluster, type TestCluster, TOKEN } from './harness.js';

const DP = `${POD_NET}.70`;

let k: TestCluster;
/** Two operator replicas, by port: one leads, the other stands by. */
const operators = new Map<number, Proc>();
let dataplane: Proc;
let s3: S3Server;

// Retention sweeps every 2 s here (default 10 min), so that the tests see them.
const startRetentionOperator = (port: number): void =>
  void operators.set(port, startOperator(k.operatorKubeconfig, { port, identity: `operator-dp-${port}`, args: ['--retention-interval', '2'] }));
const withToken = { headers: { authorization: `Bearer ${TOKEN}` } };

/** The port of the replica that leads and of the one that stands by, once both are up. */
async function roles(): Promise<{ leader: number; standby: number }> {
  return eventually(async () => {
    const [a, b] = await Promise.all([19171, 19172].map(async (port) => ({ port, ...((await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { ready: boolean; leader: boolean }) })));
    if (a === undefined || b === undefined || !a.ready || !b.ready || a.leader === b.leader) throw new Error(`replicas: ${JSON.stringify([a, b])}`);
    return a.leader ? { leader: a.port, standby: b.port } : { leader: b.port, standby: a.port };
  }, 'one leader and one ready standby', 60_000);
}

/** tollgate_operator_retention_sweeps_total of one replica, all results summed. */
async function sweeps(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, withToken)).text();
  return [...text.matchAll(/^tollgate_operator_retention_sweeps_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

beforeAll(async () => {
  [k, s3] = await Promise.all([startTestCluster(), startS3()]);
  k.kubectl(['create', 'namespace', 'team-a']);
  k.kubectl(['create', 'namespace', 'team-b']);
  k.kubectl(['create', 'namespace', 'team-c']);
  await s3.createBucket('captures');
  dataplane = startDataplane(DP);
  k.apply(dataplaneService([DP]));
  startRetentionOperator(19171);
  startRetentionOperator(19172);
}, 300_000);

afterAll(async () => {
  await Promise.all([...operators.values()].map((o) => o.kill()));
  await dataplane?.kill();
  await s3?.stop();
  await k?.stop();
});

const policy = (name: string, namespace: string, spec: string) => `apiVersion: tollgate.dev/v1alpha1
kind: DataPolicy
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;
const otlp = '  destinations: [{ name: collector, otlpLogs: { endpoint: "http://127.0.0.1:4318" } }]\n';

const apply = (manifest: string): string => applyOrRefusal(k, manifest);

describe('DataPolicy on a real API server', () => {
  it('accepts a policy with defaults, shows printer columns and kubectl explain', () => {
    expect(apply(policy('audit', 'team-a', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Redacted, sampleRate: 0.5 }\n' + otlp))).toBe('');
    expect(k.kubectl(['get', 'datapolicy', 'audit', '-n', 'team-a', '-o', 'jsonpath={.spec.capture.parts}'])).toBe('["Request","Response"]');
    expect(k.kubectl(['get', 'datapolicy', 'audit', '-n', 'team-a', '-o', 'jsonpath={.spec.redaction.detectors[2]}'])).toBe('PaymentCard');
    const table = k.kubectl(['get', 'datapolicies', '-n', 'team-a']);
    expect(table.split('\n')[0]).toMatch(/NAME\s+MODE\s+SAMPLE\s+ACCEPTED\s+AGE/);
    expect(table).toMatch(/audit\s+Redacted\s+0.5/);
    expect(k.kubectl(['get', 'dp', '-n', 'team-a', '-o', 'wide']).split('\n')[0]).toMatch(/CONTENT-RETENTION\s+METADATA-RETENTION/);
    expect(k.kubectl(['explain', 'datapolicy.spec.capture.mode'])).toMatch(/Metadata: caller, route, model, tokens/);
  });

  it.each([
    ['unknown-detector', '  subjects: { namespaces: [team-a] }\n  redaction: { detectors: [Passport] }\n', 'Unsupported value: "Passport"'],
    ['no-subjects', '  subjects: {}\n', 'subjects must name at least one namespace'],
    ['mode-without-destination', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Full }\n', 'a capture mode other than None needs at least one destination'],
    [
      'short-retention',
      '  subjects: { namespaces: [team-a] }\n  capture: { mode: Full }\n  retention: { content: 30s }\n  destinations: [{ name: b, s3: { endpoint: "http://127.0.0.1:8333", bucket: captures, credentialsSecretRef: { name: s3 }, batchInterval: 1m } }]\n',
      'retention.content must be at least every s3 destination batchInterval',
    ],
    ['two-kinds', '  subjects: { namespaces: [team-a] }\n  destinations: [{ name: b, otlpLogs: { endpoint: "http://x:4318" }, localDirectory: { path: /tmp } }]\n', 'a destination sets exactly one of otlpLogs, s3, localDirectory'],
    ['same-names', '  subjects: { namespaces: [team-a] }\n  destinations: [{ name: b, otlpLogs: { endpoint: "http://x:4318" } }, { name: b, otlpLogs: { endpoint: "http://y:4318" } }]\n', 'destination names must be unique'],
    ['bad-sample', '  subjects: { namespaces: [team-a] }\n  capture: { sampleRate: 1.5 }\n', 'sampleRate'],
  ])('refuses %s at apply', (name, spec, message) => {
    expect(apply(policy(name, 'team-a', spec))).toContain(message);
  });

  it('sets Accepted=False naming the field for a pattern RE2 refuses, without blocking another tenant', async () => {
    k.apply(policy('bad-pattern', 'team-b', '  subjects: { namespaces: [team-b] }\n  capture: { mode: Redacted }\n  redaction: { customPatterns: [{ name: ticket, pattern: "(?<=x)y" }] }\n' + otlp));
    const bad = await eventually(() => {
      const c = conditionOf(k.get<Conditioned>('datapolicy', 'bad-pattern', 'team-b'), 'Accepted');
      if (c?.status !== 'False') throw new Error(`Accepted is ${c?.status}`);
      return c;
    }, 'Accepted=False on the bad DataPolicy', 60_000);
    expect(bad.reason).toBe('Invalid');
    expect(bad.message).toContain('spec.redaction.customPatterns[0].pattern');
    const good = await eventually(() => {
      const obj = k.get<Conditioned>('datapolicy', 'audit', 'team-a');
      if (conditionOf(obj, 'Programmed')?.status !== 'True') throw new Error('not programmed yet');
      return obj;
    }, 'the other tenant programmed', 60_000);
    expect(conditionOf(good, 'Accepted')?.status).toBe('True');
    expect(conditionOf(good, 'Conflicted')?.status).toBe('False');
  });

  it('reports a younger policy claiming the same namespace as Conflicted', async () => {
    k.apply(policy('second', 'team-a', '  subjects: { namespaces: [team-a] }\n  capture: { mode: Metadata }\n' + otlp));
    const c = await eventually(() => {
      const cond = conditionOf(k.get<Conditioned>('datapolicy', 'second', 'team-a'), 'Conflicted');
      if (cond?.status !== 'True') throw new Error(`Conflicted is ${cond?.status}`);
      return cond;
    }, 'Conflicted=True on the younger policy', 60_000);
    expect(c.message).toContain('namespace team-a (DataPolicy team-a/audit applies)');
  });
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface RetentionStatus extends Conditioned {
  status?: NonNullable<Conditioned['status']> & {
    destinations?: { name: string; conditions?: { type: string; status: string; reason: string; message: string }[] }[];
    retention?: {
      lastSweepTime?: string;
      complete?: boolean;
      message?: string;
      content?: { deletedObjects?: number; totalDeletedObjects?: number; deletedBytes?: number; oldestKept?: string };
      metadata?: { deletedObjects?: number; totalDeletedObjects?: number; oldestKept?: string };
    };
  };
}

/**
 * Records of DataPolicy team-c/retained at these ages before `now`, written by the data plane's own
 * S3 writer; returns `now`, the moment the ages count from.
 */
async function seed(ages: Record<string, number>, now = Date.now()): Promise<number> {
  const writer = s3Destination({
    type: 's3',
    name: 'bucket',
    endpoint: s3.endpoint,
    bucket: 'captures',
    region: 'us-east-1',
    prefix: 'it',
    accessKeyId: secret(s3.accessKeyId),
    secretAccessKey: secret(s3.secretAccessKey),
    batchIntervalMs: 1_000,
    maxBatchRecords: 100,
  });
  for (const [requestId, age] of Object.entries(ages)) {
    await writer.write(lineGroups([storedRecord('team-c/retained', 'team-c', now - age, requestId)]));
  }
  return now;
}

const bucketSecret = (name: string, keyId: string, key: string): string => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: team-c }
stringData: { accessKeyId: "${keyId}", secretAccessKey: "${key}" }
`;
const s3Policy = (name: string, secretName: string, subjects: string): string =>
  policy(
    name,
    'team-c',
    `  subjects: ${subjects}\n  capture: { mode: Full }\n  retention: { content: 24h, metadata: 720h }\n  destinations: [{ name: bucket, s3: { endpoint: "${s3.endpoint}", bucket: captures, prefix: it, credentialsSecretRef: { name: ${secretName} } } }]\n`,
  );

describe('DataPolicy retention on a real API server and SeaweedFS', () => {
  it('deletes expired content before metadata, keeps fresh records, and reports it in status', async () => {
    // The expected keys and hours count from the seeding moment: counted from a later Date.now(), an
    // hour (or a day) that turned while the sweep ran would name the next one.
    const seeded = await seed({ old: 40 * DAY, mid: 10 * DAY, fresh: 2 * HOUR });
    expect(await s3.list('captures', 'it/')).toHaveLength(6);
    k.apply(bucketSecret('capture-bucket', s3.accessKeyId, s3.secretAccessKey));
    k.apply(s3Policy('retained', 'capture-bucket', '{ namespaces: [team-c] }'));
    const swept = await eventually(() => {
      const obj = k.get<RetentionStatus>('datapolicy', 'retained', 'team-c');
      if (obj.status?.retention?.content?.totalDeletedObjects !== 2) throw new Error(`retention status: ${JSON.stringify(obj.status?.retention)}`);
      if (conditionOf(obj, 'DestinationReady')?.status !== 'True') throw new Error(`DestinationReady: ${JSON.stringify(conditionOf(obj, 'DestinationReady'))}`);
      return obj;
    }, 'a sweep in status.retention and DestinationReady=True', 60_000);
    const keys = await s3.list('captures', 'it/');
    const dated = (stream: string, age: number): boolean => keys.some((key) => key.startsWith(`it/${stream}/namespace=team-c/date=${new Date(seeded - age).toISOString().slice(0, 10)}/`));
    expect(dated('content', 40 * DAY)).toBe(false);
    expect(dated('content', 10 * DAY)).toBe(false);
    expect(dated('metadata', 40 * DAY)).toBe(false);
    expect(dated('metadata', 10 * DAY)).toBe(true);
    expect(keys.filter((key) => key.startsWith('it/content/'))).toHaveLength(1);
    expect(keys).toHaveLength(3);
    const retention = swept.status?.retention;
    expect(retention?.metadata?.totalDeletedObjects).toBe(1);
    expect(retention?.content?.oldestKept).toBe(`${new Date(seeded - 2 * HOUR).toISOString().slice(0, 13)}:00:00Z`);
    expect(retention?.metadata?.oldestKept).toBe(`${new Date(seeded - 10 * DAY).toISOString().slice(0, 13)}:00:00Z`);
    expect(retention?.complete).toBe(true);
    expect(swept.status?.destinations?.[0]?.conditions?.[0]).toMatchObject({ type: 'DestinationReady', status: 'True', reason: 'BucketReachable' });
    const metrics = await (await fetch(`http://127.0.0.1:${(await roles()).leader}/metrics`, withToken)).text();
    expect(metrics).toMatch(/^tollgate_operator_retention_deleted_objects_total\{stream="content"\} 2$/m);
    expect(metrics).toMatch(/^tollgate_operator_retention_deleted_objects_total\{stream="metadata"\} 1$/m);
    expect(metrics).toMatch(/^tollgate_operator_retention_sweeps_total\{result="complete"\} [1-9]/m);
  });

  it('continues after the leader stops: the standby takes over, totals carry on from status, and sweeps stay idempotent', async () => {
    const { leader, standby } = await roles();
    await operators.get(leader)?.kill('SIGTERM');
    await seed({ again: 20 * DAY });
    // The stopped leader released its Lease; the old replica is started again only once the standby
    // holds it, or a fast restart could win the Lease back before the standby's next retry.
    await eventually(async () => {
      const state = (await (await fetch(`http://127.0.0.1:${standby}/readyz`)).json()) as { leader: boolean };
      if (!state.leader) throw new Error('the standby does not lead yet');
    }, 'the standby leading', 60_000);
    startRetentionOperator(leader);
    const obj = await eventually(() => {
      const o = k.get<RetentionStatus>('datapolicy', 'retained', 'team-c');
      if (o.status?.retention?.content?.totalDeletedObjects !== 3) throw new Error(`retention status: ${JSON.stringify(o.status?.retention)}`);
      return o;
    }, 'the new leader sweeping the new expired content', 90_000);
    expect(obj.status?.retention?.metadata?.totalDeletedObjects).toBe(1);
    expect((await s3.list('captures', 'it/content/')).length).toBe(1);
    expect((await s3.list('captures', 'it/metadata/')).length).toBe(3);
    expect((await roles()).leader).toBe(standby);
  });

  it('sets DestinationReady=False with a clear message for a wrong or missing Secret, never showing a credential', async () => {
    const wrongKeyId = 'AKIDWRONGKEYID0001';
    const wrongKey = 'wrong-secret-access-key-0001';
    k.apply(bucketSecret('wrong-bucket', wrongKeyId, wrongKey));
    k.apply(s3Policy('wrong-secret', 'wrong-bucket', '{ routes: [{ name: chat }] }'));
    k.apply(s3Policy('no-secret', 'absent', '{ routes: [{ name: other }] }'));
    const wrong = await eventually(() => {
      const c = conditionOf(k.get<RetentionStatus>('datapolicy', 'wrong-secret', 'team-c'), 'DestinationReady');
      if (c?.status !== 'False') throw new Error(`DestinationReady: ${JSON.stringify(c)}`);
      return c;
    }, 'DestinationReady=False for the wrong keys', 60_000);
    expect(wrong.reason).toBe('AccessDenied');
    expect(wrong.message).toMatch(/^destination bucket: bucket captures at http:\/\/127\.0\.0\.1:\d+ answered 403 \w+.*\(check the access key pair in Secret team-c\/wrong-bucket\)$/);
    const missing = await eventually(() => {
      const c = conditionOf(k.get<RetentionStatus>('datapolicy', 'no-secret', 'team-c'), 'DestinationReady');
      if (c?.status !== 'False') throw new Error(`DestinationReady: ${JSON.stringify(c)}`);
      return c;
    }, 'DestinationReady=False for the missing Secret', 60_000);
    expect(missing).toMatchObject({ reason: 'SecretNotFound', message: 'destination bucket: Secret team-c/absent not found' });
    const events = await eventually(() => {
      const out = k.kubectl(['get', 'events', '-n', 'team-c', '-o', 'json']);
      if (!out.includes('AccessDenied')) throw new Error('no AccessDenied event yet');
      return out;
    }, 'a Warning event', 30_000);
    const everything = [JSON.stringify(k.get('datapolicy', 'wrong-secret', 'team-c')), events, ...[...operators.values()].map((o) => o.logs.join(''))].join('\n');
    for (const credential of [wrongKeyId, wrongKey, s3.accessKeyId, s3.secretAccessKey]) expect(everything).not.toContain(credential);
  });

  it('the replica that is not the leader never sweeps, even when no sweep has been made for longer than the interval', async () => {
    const { leader, standby } = await roles();
    const lastSweep = (): string | undefined => k.get<RetentionStatus>('datapolicy', 'retained', 'team-c').status?.retention?.lastSweepTime;
    // The leader frozen (well within its 15 s Lease, so the standby does not take over): a sweep of
    // 'retained' falls due after 2 s, and the standby, synced with the same DataPolicies, ticks every 2 s.
    const frozen = operators.get(leader)?.child;
    frozen?.kill('SIGSTOP');
    try {
      const before = lastSweep();
      await new Promise((r) => setTimeout(r, 5_000));
      expect(lastSweep()).toBe(before);
      expect(await sweeps(standby)).toBe(0);
    } finally {
      frozen?.kill('SIGCONT');
    }
    expect(await sweeps(leader)).toBeGreaterThan(0);
    const logs = operators.get(standby)?.logs.join('') ?? '';
    expect(logs).toContain('caches synced');
    expect(logs).not.toContain('retention sweep');
  });
});
