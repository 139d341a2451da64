import type { OpenApiSchema } from '../../operator/api/crd-builder.js';
import { cell, code, isRecord, table } from './markdown.js';

/** The schema of a generated CRD (crds/*.yaml), as the generator writes it. */
type CrdSchema = OpenApiSchema;

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: {
      name: string;
      additionalPrinterColumns?: { name: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: CrdSchema };
    }[];
  };
}

function asCrd(doc: unknown, file: string): Crd {
  if (!isRecord(doc) || doc.kind !== 'CustomResourceDefinition') throw new Error(`${file}: not a CustomResourceDefinition`);
  return doc as unknown as Crd;
}

function typeOf(node: CrdSchema): string {
  if (node.type === 'array') return `[]${node.items === undefined ? 'unknown' : typeOf(node.items)}`;
  if (node.type === 'object' && node.properties === undefined && node.additionalProperties !== undefined) {
    return `map[string]${typeOf(node.additionalProperties)}`;
  }
  return node.type ?? 'unknown';
}

function constraints(node: CrdSchema): string[] {
  const out: string[] = [];
  if (node.enum !== undefined) out.push(`One of ${node.enum.map((v) => code(String(v))).join(', ')}.`);
  const range = (min: number | undefined, max: number | undefined, what: string): void => {
    if (min !== undefined && max !== undefined) out.push(`${what} ${min} to ${max}.`);
    else if (min !== undefined) out.push(`${what} at least ${min}.`);
    else if (max !== undefined) out.push(`${what} at most ${max}.`);
  };
  range(node.minimum, node.maximum, 'Value');
  range(node.minLength, node.maxLength, 'Length');
  range(node.minItems, node.maxItems, 'Items');
  if (node.pattern !== undefined) out.push(`Pattern ${code(node.pattern)}.`);
  return out;
}

interface Row {
  path: string;
  node: CrdSchema;
  required: boolean;
}

function flatten(node: CrdSchema, path: string, required: boolean, rows: Row[], rules: { path: string; message: string }[]): void {
  rows.push({ path, node, required });
  for (const r of node['x-kubernetes-validations'] ?? []) rules.push({ path, message: r.message ?? r.rule });
  const req = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {})) flatten(child, `${path}.${name}`, req.has(name), rows, rules);
  if (node.items !== undefined && (node.items.properties !== undefined || node.items['x-kubernetes-validations'] !== undefined)) {
    const req2 = new Set(node.items.required ?? []);
    for (const r of node.items['x-kubernetes-validations'] ?? []) rules.push({ path: `${path}[]`, message: r.message ?? r.rule });
    for (const [name, child] of Object.entries(node.items.properties ?? {})) flatten(child, `${path}[].${name}`, req2.has(name), rows, rules);
  }
}

function renderCrd(crd: Crd): string {
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error(`${crd.metadata.name}: no version`);
  const root = version.schema.openAPIV3Schema;
  const kind = crd.spec.names.kind;
  const out: string[] = [
    `## ${kind}`,
    '',
    cell(root.description ?? ''),
    '',
    `- API version: \`${crd.spec.group}/${version.name}\`, scope: ${crd.spec.scope}`,
    `- Names: \`kubectl get ${crd.spec.names.plural}\`${(crd.spec.names.shortNames ?? []).map((s) => `, \`${s}\``).join('')}`,
    `- Columns of \`kubectl get\`: ${(version.additionalPrinterColumns ?? [])
      .map((c) => `${c.name} (\`${c.jsonPath}\`${c.priority ? ', with -o wide' : ''})`)
      .join(', ')}`,
    '',
  ];
  for (const part of ['spec', 'status'] as const) {
    const node = root.properties?.[part];
    if (node === undefined) continue;
    const rows: Row[] = [];
    const rules: { path: string; message: string }[] = [];
    flatten(node, part, (root.required ?? []).includes(part), rows, rules);
    out.push(`### ${kind}.${part}`, '', cell(node.description ?? ''), '');
    out.push(
      table(
        ['Field', 'Type', 'Required', 'Default', 'Description'],
        rows.slice(1).map((r) => [
          code(r.path),
          code(typeOf(r.node)),
          r.required ? 'yes' : '',
          r.node.default === undefined ? '' : code(JSON.stringify(r.node.default)),
          [r.node.description ?? '', ...constraints(r.node)].filter(Boolean).join(' '),
        ]),
      ),
      '',
    );
    if (rules.length > 0) {
      out.push(`Validation rules (checked by the API server at \`kubectl apply\`, and by \`tollgate dev\`):`, '');
      for (const r of rules) out.push(`- \`${r.path}\`: ${r.message}`);
      out.push('');
    }
  }
  return out.join('\n');
}

/** docs/crd-reference.md from the generated CRDs (which `make crds` generates from the zod schemas). */
export function renderCrdReference(files: { name: string; doc: unknown }[]): string {
  const crds = files.map((f) => asCrd(f.doc, f.name));
  const order = ['Provider', 'ModelRoute', 'Budget'];
  crds.sort((a, b) => order.indexOf(a.spec.names.kind) - order.indexOf(b.spec.names.kind));
  const out = [
    '# CRD reference',
    '',
    '<!-- Generated from crds/*.yaml (themselves generated from the zod schemas in operator/api) by `make docs` (tools/gen-docs.ts). Do not edit by hand: a test fails when it is stale. -->',
    '',
    'Every field of the three Tollgate resources. `kubectl explain provider.spec` (and so on) shows the same descriptions on a cluster. What the status conditions mean and how to fix a `False` one: [troubleshooting.md](troubleshooting.md).',
    '',
    ...crds.map((c) => `- [${c.spec.names.kind}](#${c.spec.names.kind.toLowerCase()})`),
    '',
    ...crds.map(renderCrd),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}
