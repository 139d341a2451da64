import { cell, code, isRecord, table } from './markdown.js';

/** The subset of JSON Schema (draft 7) that charts/tollgate/values.schema.json uses. */
export interface ValuesSchema {
  $ref?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, ValuesSchema>;
  additionalProperties?: boolean | ValuesSchema;
  items?: ValuesSchema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  uniqueItems?: boolean;
  required?: string[];
  definitions?: Record<string, ValuesSchema>;
}

/** Resolves a local `#/definitions/x` reference; the node's own description wins over the target's. */
export function resolve(node: ValuesSchema, root: ValuesSchema): ValuesSchema {
  if (node.$ref === undefined) return node;
  const name = /^#\/definitions\/(.+)$/.exec(node.$ref)?.[1];
  const target = name === undefined ? undefined : root.definitions?.[name];
  if (target === undefined) throw new Error(`unresolvable $ref ${node.$ref}`);
  const { $ref: _ref, ...rest } = node;
  return { ...resolve(target, root), ...rest };
}

function typeOf(node: ValuesSchema, root: ValuesSchema): string {
  const types = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
  return types
    .map((t) => {
      if (t === 'array' && node.items !== undefined) {
        const items = resolve(node.items, root);
        return `list of ${items.additionalProperties === true ? 'Kubernetes objects' : typeOf(items, root)}`;
      }
      if (t === 'object' && node.properties === undefined) {
        if (node.additionalProperties === true) return 'Kubernetes object';
        if (isRecord(node.additionalProperties)) return `map of ${typeOf(resolve(node.additionalProperties, root), root)}`;
      }
      return t;
    })
    .join(' or ');
}

function constraints(node: ValuesSchema): string[] {
  const out: string[] = [];
  if (node.enum !== undefined) out.push(`One of ${node.enum.map((v) => code(JSON.stringify(v))).join(', ')}.`);
  if (node.minimum !== undefined && node.maximum !== undefined) out.push(`From ${node.minimum} to ${node.maximum}.`);
  else if (node.minimum !== undefined) out.push(`At least ${node.minimum}.`);
  if (node.pattern !== undefined) out.push(`Pattern ${code(node.pattern)}.`);
  if (node.uniqueItems === true) out.push('No duplicates.');
  return out;
}

function lookup(values: unknown, path: string[]): unknown {
  let v: unknown = values;
  for (const key of path) v = isRecord(v) ? v[key] : undefined;
  return v;
}

function renderDefault(value: unknown): string {
  if (value === undefined) return '';
  return code(JSON.stringify(value));
}

/** docs/configuration.md from the values schema (types, rules, descriptions) and values.yaml (defaults). */
export function renderConfigReference(schema: ValuesSchema, values: unknown): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from charts/tollgate/values.schema.json and values.yaml by `make docs` (tools/gen-docs.ts). Do not edit by hand: a test fails when it is stale. -->',
    '',
    `${schema.description ?? ''} Set values with \`helm install -f my-values.yaml\` or \`--set key=value\`; see [install.md](install.md).`,
    '',
  ];
  const rowsOf = (start: ValuesSchema, startPath: string[]): string[][] => {
    const rows: string[][] = [];
    const walk = (n: ValuesSchema, path: string[]): void => {
      const resolved = resolve(n, schema);
      if (resolved.properties !== undefined && path.length > 1) {
        rows.push([code(path.join('.')), 'object', '', resolved.description ?? '']);
      }
      if (resolved.properties !== undefined) {
        for (const [k, child] of Object.entries(resolved.properties)) walk(child, [...path, k]);
        return;
      }
      const description = [resolved.description ?? '', ...constraints(resolved)].filter(Boolean).join(' ');
      rows.push([code(path.join('.')), typeOf(resolved, schema), renderDefault(lookup(values, path)), description]);
    };
    walk(start, startPath);
    return rows;
  };
  const top = Object.entries(schema.properties ?? {}).map(([key, raw]) => ({ key, node: resolve(raw, schema) }));
  // Top-level keys without children share one table; every object with children gets its own section.
  const general = top.filter((t) => t.node.properties === undefined);
  out.push('## General', '', table(['Key', 'Type', 'Default', 'Description'], general.flatMap((t) => rowsOf(t.node, [t.key]))), '');
  for (const { key, node } of top.filter((t) => t.node.properties !== undefined)) {
    out.push(`## \`${key}\``, '', cell(node.description ?? ''), '');
    out.push(table(['Key', 'Type', 'Default', 'Description'], rowsOf(node, [key])), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
