import yaml from 'js-yaml';
import type { z } from 'zod';
import { BudgetSchema } from '../api/budget.js';
import { DataPolicySchema } from '../api/data-policy.js';
import { GuardrailPolicySchema } from '../api/guardrail-policy.js';
import { API_VERSION, GROUP } from '../api/common.js';
import { CRD_DEFINITIONS } from '../api/crd-definitions.js';
import { ModelRouteSchema } from '../api/model-route.js';
import { ProviderSchema } from '../api/provider.js';
import type { CompileInput } from '../compile/types.js';

export interface ManifestFile {
  path: string;
  content: string;
}

/** Names the file, the object and the field that is wrong. */
export interface ManifestError {
  file: string;
  object?: string;
  field?: string;
  message: string;
}

export function formatManifestError(e: ManifestError): string {
  return [e.file, e.object, e.field].filter((x) => x !== undefined && x !== '').join(': ') + `: ${e.message}`;
}

export interface LoadResult {
  input: CompileInput;
  errors: ManifestError[];
  /** Documents of other kinds, skipped. */
  ignored: string[];
}

type Doc = Record<string, unknown>;

const KINDS: readonly string[] = CRD_DEFINITIONS.map((d) => d.kind);

/** ObjectMeta's fields: kubectl's strict field validation refuses any other key under metadata. */
const METADATA_FIELDS: readonly string[] = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** " (did you mean X?)" for the closest candidate a typo could have come from, else "". */
function didYouMean(word: string, candidates: readonly string[]): string {
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = editDistance(lower, c.toLowerCase());
    if (distance <= Math.max(1, Math.floor(c.length / 3)) && (best === undefined || distance < best.distance)) best = { name: c, distance };
  }
  return best ? ` (did you mean ${best.name}?)` : '';
}

/** The errors kubectl would give for a document it would refuse, before any schema sees it. */
function envelopeErrors(file: string, object: string, doc: Doc, ours: boolean): ManifestError[] {
  const errors: ManifestError[] = [];
  if (ours) {
    const apiVersion = String(doc.apiVersion);
    const kind = String(doc.kind);
    if (apiVersion !== API_VERSION) errors.push({ file, object, field: 'apiVersion', message: `${apiVersion} is not served: Tollgate serves ${API_VERSION}` });
    if (!KINDS.includes(kind)) errors.push({ file, object, field: 'kind', message: `unknown kind ${kind} in ${API_VERSION}${didYouMean(kind, KINDS)}` });
  }
  if (isDoc(doc.metadata)) {
    for (const key of Object.keys(doc.metadata)) {
      if (!METADATA_FIELDS.includes(key)) errors.push({ file, object, field: `metadata.${key}`, message: `unknown field${didYouMean(key, METADATA_FIELDS)}` });
    }
  }
  return errors;
}

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectName(doc: Doc): string {
  const meta = isDoc(doc.metadata) ? doc.metadata : {};
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const name = typeof meta.name === 'string' ? meta.name : '<unnamed>';
  return `${String(doc.kind)} ${ns}/${name}`;
}

function zodErrors(file: string, object: string, error: z.ZodError): ManifestError[] {
  return error.issues.map((issue) => ({ file, object, field: issue.path.map(String).join('.'), message: issue.message }));
}

function decodeSecret(doc: Doc): Record<string, string> {
  const data: Record<string, string> = {};
  if (isDoc(doc.data)) {
    for (const [k, v] of Object.entries(doc.data)) if (typeof v === 'string') data[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  if (isDoc(doc.stringData)) {
    for (const [k, v] of Object.entries(doc.stringData)) if (typeof v === 'string') data[k] = v;
  }
  return data;
}

/** A creation time as written: YAML reads an unquoted timestamp as a Date. */
function createdAt(value: unknown): { createdAt?: string } {
  if (typeof value === 'string') return { createdAt: value };
  if (value instanceof Date && !Number.isNaN(value.getTime())) return { createdAt: value.toISOString() };
  return {};
}

/**
 * Parses multi-document YAML (or JSON) manifests into compile input, the way `kubectl apply` would
 * see them: namespace defaults to "default", each object validated by the CRD schema and its rules.
 */
export function loadManifests(files: ManifestFile[]): LoadResult {
  const input: CompileInput = { providers: [], routes: [], budgets: [], guardrails: [], secrets: [], namespaces: [] };
  const errors: ManifestError[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();

  for (const file of files) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(file.content);
    } catch (err) {
      errors.push({ file: file.path, message: `YAML: ${(err as Error).message.split('\n')[0] ?? ''}` });
      continue;
    }
    for (const raw of docs) {
      if (raw === null || raw === undefined) continue;
      if (!isDoc(raw)) {
        errors.push({ file: file.path, message: 'a document is not an object' });
        continue;
      }
      const object = objectName(raw);
      // A typo in our group's kind or version must not read as a foreign object: a Budget skipped in
      // silence is a spending cap that does not exist. Other groups' objects stay quiet.
      const ours = typeof raw.apiVersion === 'string' && (raw.apiVersion === GROUP || raw.apiVersion.startsWith(`${GROUP}/`));
      const loaded = ours || (raw.apiVersion === 'v1' && (raw.kind === 'Secret' || raw.kind === 'Namespace'));
      if (loaded) {
        const refused = envelopeErrors(file.path, object, raw, ours);
        if (refused.length > 0) {
          errors.push(...refused);
          continue;
        }
      }
      if (isDoc(raw.metadata) && raw.metadata.namespace === undefined) raw.metadata.namespace = 'default';
      if (seen.has(object)) {
        errors.push({ file: file.path, object, message: 'defined more than once' });
        continue;
      }
      seen.add(object);
      const kind = raw.kind;
      if (raw.apiVersion === API_VERSION && (kind === 'Provider' || kind === 'ModelRoute' || kind === 'Budget' || kind === 'DataPolicy' || kind === 'GuardrailPolicy')) {
        const accept = <T>(result: z.ZodSafeParseResult<T>, into: T[]): void => {
          if (result.success) into.push(result.data);
          else errors.push(...zodErrors(file.path, object, result.error));
        };
        if (kind === 'Provider') accept(ProviderSchema.safeParse(raw), input.providers);
        else if (kind === 'ModelRoute') accept(ModelRouteSchema.safeParse(raw), input.routes);
        else if (kind === 'Budget') accept(BudgetSchema.safeParse(raw), input.budgets);
        else if (kind === 'DataPolicy') accept(DataPolicySchema.safeParse(raw), (input.dataPolicies ??= []));
        else accept(GuardrailPolicySchema.safeParse(raw), (input.guardrails ??= []));
      } else if (raw.apiVersion === 'v1' && kind === 'Secret' && isDoc(raw.metadata) && typeof raw.metadata.name === 'string') {
        const labels = isDoc(raw.metadata.labels) ? raw.metadata.labels : {};
        input.secrets.push({
          namespace: String(raw.metadata.namespace),
          name: raw.metadata.name,
          data: decodeSecret(raw),
          labels: Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string')),
          // Rarely written in a manifest; without it, of two Secrets holding one API key the first by namespace/name keeps it.
          ...createdAt(raw.metadata.creationTimestamp),
        });
      } else if (raw.apiVersion === 'v1' && kind === 'Namespace' && isDoc(raw.metadata) && typeof raw.metadata.name === 'string') {
        const labels = isDoc(raw.metadata.labels) ? raw.metadata.labels : {};
        input.namespaces?.push({
          name: raw.metadata.name,
          labels: Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string')),
        });
      } else {
        ignored.push(`${file.path}: ${object} (${String(raw.apiVersion)})`);
      }
    }
  }
  return { input, errors, ignored };
}
