import { describe, expect, it } from 'vitest';
import { dataPolicy } from '../../test/support/objects.js';
import { checkDestination } from './destination-check.js';
import { closedPort } from '../../test/support/closed-port.js';

// DestinationReady for a bucket that cannot be reached (issue 16: an unreachable destination sets
// DestinationReady=False while serving continues); the refused and missing credentials are proven
// against SeaweedFS in test/integration/data-policy.test.ts.

const secrets = [{ namespace: 'team-c', name: 'keys', data: { accessKeyId: 'AKIDCHECK0001', secretAccessKey: 'check-secret-0001' } }];


describe('destination check', () => {
  it('an s3 endpoint that refuses connections is Unreachable, named without a credential', async () => {
    const port = await closedPort();
    const p = dataPolicy('bucket', { subjects: { namespaces: ['team-c'] }, capture: { mode: 'Metadata' }, destinations: [{ name: 'bucket', s3: { endpoint: `http://127.0.0.1:${port}/`, bucket: 'captures', credentialsSecretRef: { name: 'keys' } } }] }, { namespace: 'team-c' });
    const destination = p.spec.destinations[0]!;
    const { readiness, s3 } = await checkDestination(destination, 'team-c', secrets);
    expect(s3).toBeUndefined();
    expect(readiness).toMatchObject({ name: 'bucket', ready: false, reason: 'Unreachable' });
    expect(readiness.message).toContain(`127.0.0.1:${port}`);
    for (const credential of ['AKIDCHECK0001', 'check-secret-0001']) expect(readiness.message).not.toContain(credential);
  });
});
