import { z } from 'zod';
import { GROUP, VERSION } from './common.js';
import type { CrdDefinition } from './crd-definitions.js';

/** An OpenAPI v3 schema node as Kubernetes accepts it in a structural CRD schema. */
export interface OpenApiSchema {
  type?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema;
  items?: OpenApiSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const KEPT_KEYS = new Set<string>([
  'type',
  'description',
  'required',
  'enum',
  'default',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]);

// zod emits these bounds for every z.number().int(); Kubernetes needs no such noise.
const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns zod's JSON Schema (draft 2020-12) into a Kubernetes structural schema. Throws on constructs
 * that a structural schema cannot express (unions, refs), so that a schema change that would break
 * the CRD fails the generator rather than the cluster.
 */
export function toStructural(node: unknown, path = '$'): OpenApiSchema {
  if (!isObject(node)) throw new Error(`${path}: expected a schema object`);
  for (const forbidden of ['anyOf', 'oneOf', 'allOf', '$ref', 'not']) {
    if (forbidden in node) throw new Error(`${path}: ${forbidden} cannot be expressed in a structural CRD schema`);
  }
  const out: OpenApiSchema & JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (!KEPT_KEYS.has(key)) continue;
    if ((key === 'maximum' && value === SAFE_INTEGER) || (key === 'minimum' && value === -SAFE_INTEGER)) continue;
    out[key] = value;
  }
  if (isObject(node.properties)) {
    const props: Record<string, OpenApiSchema> = {};
    for (const [name, child] of Object.entries(node.properties)) props[name] = toStructural(child, `${path}.${name}`);
    out.properties = props;
  }
  if (isObject(node.additionalProperties)) {
    out.additionalProperties = toStructural(node.additionalProperties, `${path}[*]`);
  }
  if (node.items !== undefined) out.items = toStructural(node.items, `${path}[]`);
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

export function schemaFor(zodSchema: z.ZodType, path: string): OpenApiSchema {
  const json = z.toJSONSchema(zodSchema, { io: 'input', unrepresentable: 'throw', reused: 'inline' });
  return toStructural(json, path);
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: CrdDefinition['printerColumns'];
      schema: { openAPIV3Schema: OpenApiSchema };
    }[];
  };
}

/** Pure: one CRD object per definition, derived only from the zod schemas and the definition. */
export function buildCrd(def: CrdDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'tollgate' } },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['tollgate'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: def.description,
              ...(def.specRequired === false ? {} : { required: ['spec'] }),
              properties: {
                apiVersion: { type: 'string', description: 'APIVersion of this object: tollgate.dev/v1alpha1.' },
                kind: { type: 'string', description: `Kind of this object: ${def.kind}.` },
                metadata: { type: 'object' },
                spec: schemaFor(def.spec, `${def.kind}.spec`),
                status: schemaFor(def.status, `${def.kind}.status`),
              },
            },
          },
        },
      ],
    },
  };
}
