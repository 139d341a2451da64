import { readdirSync, readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { buildCrd, type OpenApiSchema, toStructural } from '../../operator/api/crd-builder.js';
import { CRD_DEFINITIONS } from '../../operator/api/crd-definitions.js';
import { renderCrdFiles } from '../../operator/api/crd-yaml.js';

function walk(node: OpenApiSchema, path: string, visit: (n: OpenApiSchema, p: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (node.additionalProperties) walk(node.additionalProperties, `${path}{}`, visit);
}

describe('generated CRDs', () => {
  it('crds/ matches the zod schemas (run `make crds` when this fails)', () => {
    const files = renderCrdFiles();
    expect(readdirSync('crds').filter((f) => f.endsWith('.yaml')).sort()).toEqual(files.map((f) => f.name).sort());
    for (const file of files) expect(readFileSync(`crds/${file.name}`, 'utf8'), file.name).toBe(file.content);
  });

  it('every schema node is structural: a type everywhere, no unions, no additionalProperties=false', () => {
    for (const def of CRD_DEFINITIONS) {
      const schema = buildCrd(def).spec.versions[0]?.schema.openAPIV3Schema;
      expect(schema).toBeDefined();
      if (!schema) continue;
      walk(schema, def.kind, (n, p) => {
        expect(n.type, `${p} has a type`).toBeTypeOf('string');
        expect(JSON.stringify(n.additionalProperties ?? {}), p).not.toBe('false');
      });
    }
  });

  it('describes every field at every depth so that kubectl explain is useful', () => {
    for (const def of CRD_DEFINITIONS) {
      const root = buildCrd(def).spec.versions[0]?.schema.openAPIV3Schema;
      if (!root) throw new Error(def.kind);
      const undescribed: string[] = [];
      const visit = (node: OpenApiSchema, path: string): void => {
        for (const [name, child] of Object.entries(node.properties ?? {})) {
          if (name === 'metadata') continue;
          if (!child.description) undescribed.push(`${path}.${name}`);
          visit(child, `${path}.${name}`);
        }
        if (node.items) visit(node.items, `${path}[]`);
      };
      visit(root, def.kind);
      expect(undescribed).toEqual([]);
    }
  });

  it('GuardrailPolicy.spec.uninspectedEndpoints: Refuse or Allow, Refuse by default, described for kubectl explain', () => {
    const def = CRD_DEFINITIONS.find((d) => d.kind === 'GuardrailPolicy');
    if (!def) throw new Error('GuardrailPolicy');
    const field = buildCrd(def).spec.versions[0]?.schema.openAPIV3Schema.properties?.spec?.properties?.uninspectedEndpoints;
    expect(field).toMatchObject({ type: 'string', enum: ['Refuse', 'Allow'], default: 'Refuse' });
    expect(field?.description).toMatch(/pass-through.*Realtime.*403 guardrail_uninspected/);
  });

  it('carries the cross-field CEL rules, printer columns, status subresource and short names', () => {
    const route = yaml.load(readFileSync('crds/tollgate.dev_modelroutes.yaml', 'utf8')) as ReturnType<typeof buildCrd>;
    const version = route.spec.versions[0];
    const rules = version?.schema.openAPIV3Schema.properties?.spec?.['x-kubernetes-validations']?.map((r) => r.message);
    expect(rules).toContain('target weights are only allowed with strategy weighted');
    const retry = version?.schema.openAPIV3Schema.properties?.spec?.properties?.retry;
    expect(retry?.['x-kubernetes-validations']?.map((r) => r.rule)).toEqual(["!has(self.retryOn) || !self.retryOn.exists(c, c == 'ContextLengthExceeded')"]);
    expect(version?.additionalPrinterColumns.map((c) => c.name)).toEqual(['Model', 'Strategy', 'Accepted', 'Resolved', 'Programmed', 'Age']);
    expect(version?.subresources).toEqual({ status: {} });
    expect(route.spec.names.shortNames).toContain('mr');
    const provider = buildCrd(CRD_DEFINITIONS[0] as (typeof CRD_DEFINITIONS)[number]);
    const providerRules = provider.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec?.['x-kubernetes-validations'];
    expect(providerRules?.map((r) => r.rule)).toContain('!(has(self.url) && has(self.serviceRef))');
    const budget = yaml.load(readFileSync('crds/tollgate.dev_budgets.yaml', 'utf8')) as ReturnType<typeof buildCrd>;
    const limit = budget.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec?.properties?.limit;
    expect(limit?.['x-kubernetes-validations']?.[0]?.rule).toBe('self.amount > 0');
    // A Budget whose route is missing (ResolvedRefs=False, RouteNotFound) shows it in kubectl get budgets.
    expect(budget.spec.versions[0]?.additionalPrinterColumns.filter((c) => c.priority === undefined).map((c) => [c.name, c.jsonPath])).toContainEqual([
      'Resolved',
      '.status.conditions[?(@.type=="ResolvedRefs")].status',
    ]);
  });

  it('refuses schema constructs a structural schema cannot express', () => {
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'number' }] })).toThrow(/anyOf/);
    expect(() => toStructural({ type: 'object', properties: { a: { $ref: '#/x' } } })).toThrow(/\$\.a: \$ref/);
  });
});
