import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MALFORMED_KUBECONFIG, MALFORMED_KUBECONFIG_REASON } from '../../../test/fixtures/kubeconfig/malformed.js';
import { kubeconfigError } from '../../config/kubeconfig-error.js';
import { kubeApiFromKubeconfig } from './kube-api.js';

describe('kubeconfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kubeconfig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a kubeconfig that is not valid YAML is reported by its reason and position, never the lines around it', () => {
    const path = join(dir, 'bad');
    writeFileSync(path, MALFORMED_KUBECONFIG);
    expect(() => kubeApiFromKubeconfig(path)).toThrow(new Error(`${path}: not valid YAML: ${MALFORMED_KUBECONFIG_REASON}`));
  });

  it('reads the server and token of the current context; other errors pass through as they are', () => {
    const path = join(dir, 'good');
    writeFileSync(path, MALFORMED_KUBECONFIG.replace('   bad-indent: x\n', ''));
    expect(kubeApiFromKubeconfig(path)).toEqual({ server: 'https://k:6443', token: 'eyJhbGciOiJSUzI1NiJ9.SA-TOKEN-SECRET.sig' });
    const missing = new Error('ENOENT');
    expect(kubeconfigError(path, missing)).toBe(missing);
  });
});
