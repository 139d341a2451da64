// Pure checks of the chart's files (no helm binary): CRDs identical to crds/, a values schema that
// refuses typos everywhere and describes every key, and values.yaml and the schema in step.
import { readdirSync, readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { USAGE_REPORT_ALLOWANCE_MS } from '../../dataplane/main/shutdown-deadline.js';
import { resolve, type ValuesSchema } from '../../tools/docs/config-reference.js';

const CHART = 'charts/tollgate';
const schema = JSON.parse(readFileSync(`${CHART}/values.schema.json`, 'utf8')) as ValuesSchema;
const values = yaml.load(readFileSync(`${CHART}/values.yaml`, 'utf8')) as Record<string, unknown>;

/**
 * Schema nodes that values.yaml sets as a whole: Kubernetes objects passed through as they are
 * (affinity, tolerations, ...) and resource requests/limits (a default need not name every quantity).
 */
const PASSTHROUGH = new Set(['kubernetesObject', 'kubernetesList', 'resources']);

interface Visit {
  path: string;
  node: ValuesSchema;
}

function walk(node: ValuesSchema, path: string, out: Visit[]): void {
  const ref = /^#\/definitions\/(.+)$/.exec(node.$ref ?? '')?.[1];
  if (ref !== undefined && PASSTHROUGH.has(ref)) return;
  const resolved = resolve(node, schema);
  out.push({ path, node: resolved });
  for (const [k, child] of Object.entries(resolved.properties ?? {})) walk(child, path === '' ? k : `${path}.${k}`, out);
  if (resolved.items !== undefined) walk(resolved.items, `${path}[]`, out);
}

const nodes: Visit[] = [];
walk(schema, '', nodes);

describe('chart files', () => {
  it('ships the CRDs of crds/ byte for byte (run `make docs` when this fails)', () => {
    const repo = readdirSync('crds').filter((f) => f.endsWith('.yaml')).sort();
    expect(readdirSync(`${CHART}/crds`).sort()).toEqual(repo);
    for (const f of repo) expect(readFileSync(`${CHART}/crds/${f}`, 'utf8'), f).toBe(readFileSync(`crds/${f}`, 'utf8'));
  });

  it('refuses unknown keys in every object of the values schema', () => {
    const open = nodes.filter((v) => v.node.type === 'object' && v.node.additionalProperties !== false && v.node.properties !== undefined);
    expect(open.map((v) => v.path)).toEqual([]);
    // Maps (labels, annotations) constrain their values instead.
    const maps = nodes.filter((v) => v.node.type === 'object' && v.node.properties === undefined);
    for (const m of maps) expect(typeof m.node.additionalProperties, m.path).toBe('object');
  });

  it('describes every key of the values schema (docs/configuration.md is generated from it)', () => {
    const undescribed = nodes.filter((v) => v.path !== '' && !v.path.endsWith('[]') && !v.node.description).map((v) => v.path);
    expect(undescribed).toEqual([]);
  });

  it('has a default in values.yaml for every key of the schema, and nothing else', () => {
    const leafPaths = (obj: unknown, prefix: string): string[] =>
      typeof obj === 'object' && obj !== null && !Array.isArray(obj) && Object.keys(obj).length > 0
        ? Object.entries(obj).flatMap(([k, v]) => {
            const path = prefix === '' ? k : `${prefix}.${k}`;
            const node = nodes.find((n) => n.path === path)?.node;
            // Maps and Kubernetes objects are leaves even when the default has keys.
            return node !== undefined && node.properties !== undefined ? leafPaths(v, path) : [path];
          })
        : [prefix];
    const inValues = leafPaths(values, '').sort();
    const inSchema = nodes
      .filter((v) => v.path !== '' && !v.path.includes('[]') && v.node.properties === undefined)
      .map((v) => v.path)
      .concat(
        // Passthrough keys are not walked into; list them from their parents.
        nodes.flatMap((v) =>
          Object.entries(v.node.properties ?? {})
            .filter(([, c]) => PASSTHROUGH.has(/^#\/definitions\/(.+)$/.exec(c.$ref ?? '')?.[1] ?? ''))
            .map(([k]) => (v.path === '' ? k : `${v.path}.${k}`)),
        ),
      )
      .sort();
    expect(inValues).toEqual(inSchema);
  });

  it('keeps the rules files to one RBAC scope per rule, as the chart requires', () => {
    const rules = yaml.load(readFileSync(`${CHART}/files/operator-rules.yaml`, 'utf8')) as { resources: string[]; verbs: string[] }[];
    const scopeOf = (r: string, verbs: string[]) =>
      r === 'namespaces' ? 'cluster' : r === 'leases' || r === 'serviceaccounts' || (r === 'secrets' && verbs.includes('create')) ? 'release' : 'watched';
    for (const rule of rules) expect(new Set(rule.resources.map((r) => scopeOf(r, rule.verbs))).size, rule.resources.join(',')).toBe(1);
  });

  it("gives the data plane's grace period the usage-report allowance the process takes after its drain", () => {
    const helpers = readFileSync(`${CHART}/templates/_helpers.tpl`, 'utf8');
    expect(helpers).toContain(`{{- $usageReportAllowance := ${USAGE_REPORT_ALLOWANCE_MS / 1000} -}}`);
    expect(helpers).toMatch(/\$needed := add \$dp\.preStopDelaySeconds \$dp\.drainTimeoutSeconds \$usageReportAllowance \$exitMargin/);
  });

  it('names, in the GitOps note of docs/install.md, the existingSecret of every token the chart keeps with lookup', () => {
    const kept = readdirSync(`${CHART}/templates`)
      .map((f) => readFileSync(`${CHART}/templates/${f}`, 'utf8'))
      .filter((t) => t.includes('lookup "v1" "Secret"'))
      .map((t) => /\.Values\.(\w+)\.existingSecret/.exec(t)?.[1]);
    expect(kept.length).toBeGreaterThan(0);
    const install = readFileSync('docs/install.md', 'utf8');
    const start = install.indexOf('- **GitOps**');
    const gitops = install.slice(start, install.indexOf('\n## ', start));
    for (const value of kept) expect(gitops, `${value}.existingSecret`).toContain(`\`${value}.existingSecret\``);
  });

  it('says in the docs that the ServiceMonitors send the metrics token, which is what the chart renders', () => {
    expect(readFileSync(`${CHART}/templates/servicemonitor.yaml`, 'utf8')).toContain('tollgate.metricsTokenSecretName');
    for (const f of readdirSync('docs').filter((n) => n.endsWith('.md'))) {
      const sentences = readFileSync(`docs/${f}`, 'utf8').replace(/\s+/g, ' ').split(/(?<=[.;:])\s/);
      for (const s of sentences.filter((x) => /ServiceMonitors send/.test(x))) expect(s, f).toMatch(/metrics token|read-only/);
    }
  });

  it("lists in docs/install.md every CRD the chart installs and every resource of the operator's RBAC rules", () => {
    const install = readFileSync('docs/install.md', 'utf8');
    const crdRow = install.split('\n').find((l) => l.startsWith('| CRDs ')) ?? '';
    for (const f of readdirSync(`${CHART}/crds`)) expect(crdRow, f).toContain(`\`${/^tollgate\.dev_(\w+)\.yaml$/.exec(f)?.[1]}\``);
    const start = install.indexOf('- **operator**:');
    const bullet = install.slice(start, install.indexOf('\n- ', start + 1)).replace(/\s+/g, ' ');
    const plain = bullet.toLowerCase().replace(/ /g, '');
    const rules = yaml.load(readFileSync(`${CHART}/files/operator-rules.yaml`, 'utf8')) as { resources: string[] }[];
    const resources = rules.flatMap((r) => r.resources);
    // Singular or plural (its Lease, Secrets).
    for (const r of resources.filter((x) => !x.endsWith('/status'))) expect(plain, r).toContain(r.replace(/(ies|s)$/, ''));
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];
    const patched = rules.filter((r) => r.resources.every((x) => x.endsWith('/status')) && r.resources.length > 1);
    expect(patched.length).toBe(1);
    expect(bullet).toContain(`the ${words[patched[0]?.resources.length ?? 0]} \`/status\` subresources`);
  });
});
