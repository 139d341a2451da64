import { describe, expect, it } from 'vitest';
import { labelSelectorProblem, secretsQuery, slimSecret } from './secret-watch.js';

describe('the Secrets watch', () => {
  it('leaves Helm releases and ServiceAccount tokens out, and adds a label selector when one is set', () => {
    const q = new URLSearchParams(secretsQuery(undefined));
    expect(q.get('fieldSelector')).toBe('type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token,type!=bootstrap.kubernetes.io/token');
    expect(q.has('labelSelector')).toBe(false);
    expect(new URLSearchParams(secretsQuery('tollgate.dev/use=true')).get('labelSelector')).toBe('tollgate.dev/use=true');
  });

  it('keeps name, namespace, version, creation time (the oldest holder of an API key keeps it), labels and data; drops annotations (last-applied-configuration repeats the data)', () => {
    const slim = slimSecret({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'k', namespace: 'team-a', resourceVersion: '7', uid: 'u', creationTimestamp: '2024-01-01T00:00:00Z', labels: { a: 'b' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"apiKey":"c2st"}}' } },
      data: { apiKey: 'c2st' },
    });
    expect(slim).toEqual({ metadata: { name: 'k', namespace: 'team-a', resourceVersion: '7', creationTimestamp: '2024-01-01T00:00:00Z', labels: { a: 'b' } }, data: { apiKey: 'c2st' } });
  });

  it.each(['tollgate.dev/use=true', 'a==b', 'a!=b', 'a', '!a', 'env in (prod, staging)', 'env notin (a),tier=x', 'example.com/x=', 'a=b, c=d'])('takes the label selector %s', (s) => {
    expect(labelSelectorProblem(s)).toBeUndefined();
  });

  it.each(['a=b=c', 'a b', 'env in prod', '=b', 'a=(b)', 'a,,b', '-a=b', `a=${'x'.repeat(64)}`])('names the bad requirement in %s', (s) => {
    expect(labelSelectorProblem(s)).toMatch(/is not a label selector/);
  });
});
