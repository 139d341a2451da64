import type { z } from 'zod';
import { BudgetSpecSchema, BudgetStatusSchema } from './budget.js';
import { DataPolicySpecSchema, DataPolicyStatusSchema } from './data-policy.js';
import { GuardrailPolicySpecSchema, GuardrailPolicyStatusSchema } from './guardrail-policy.js';
import { ModelRouteSpecSchema, ModelRouteStatusSchema } from './model-route.js';
import { ProviderSpecSchema, ProviderStatusSchema } from './provider.js';
import { UsageReportSpecSchema, UsageReportStatusSchema } from './usage-report.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything the generator needs to know about one kind besides its zod schemas. */
export interface CrdDefinition {
  kind: 'Provider' | 'ModelRoute' | 'Budget' | 'DataPolicy' | 'UsageReport' | 'GuardrailPolicy';
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
  /** Whether objects must have a spec (false for kinds the operator writes, which have only status). */
  specRequired?: boolean;
}

const condition = (type: string): string => `.status.conditions[?(@.type=="${type}")].status`;
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const CRD_DEFINITIONS: readonly CrdDefinition[] = [
  {
    kind: 'Provider',
    plural: 'providers',
    singular: 'provider',
    shortNames: ['llmp', 'llmprovider'],
    description:
      'Provider is one upstream LLM API (hosted, OpenAI-compatible or an in-cluster vLLM Service): its protocol, endpoint, credentials, models and prices.',
    spec: ProviderSpecSchema,
    status: ProviderStatusSchema,
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'URL', type: 'string', jsonPath: '.spec.url', priority: 1 },
      { name: 'Service', type: 'string', jsonPath: '.spec.serviceRef.name', priority: 1 },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      { name: 'Resolved', type: 'string', jsonPath: condition('ResolvedRefs') },
      { name: 'Programmed', type: 'string', jsonPath: condition('Programmed') },
      age,
    ],
  },
  {
    kind: 'ModelRoute',
    plural: 'modelroutes',
    singular: 'modelroute',
    shortNames: ['mr', 'mroute'],
    description:
      'ModelRoute maps a public model name that clients send to one or more upstream models, with the strategy, retry, fallback, limits and access that apply.',
    spec: ModelRouteSpecSchema,
    status: ModelRouteStatusSchema,
    printerColumns: [
      { name: 'Model', type: 'string', jsonPath: '.spec.model' },
      { name: 'Strategy', type: 'string', jsonPath: '.spec.strategy' },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      { name: 'Resolved', type: 'string', jsonPath: condition('ResolvedRefs') },
      { name: 'Programmed', type: 'string', jsonPath: condition('Programmed'), priority: 1 },
      age,
    ],
  },
  {
    kind: 'Budget',
    plural: 'budgets',
    singular: 'budget',
    shortNames: ['llmbudget'],
    description: 'Budget limits spend (USD) or tokens per period for a set of namespaces, ServiceAccounts, API keys or routes.',
    spec: BudgetSpecSchema,
    status: BudgetStatusSchema,
    printerColumns: [
      { name: 'Limit', type: 'number', jsonPath: '.spec.limit.amount' },
      { name: 'Unit', type: 'string', jsonPath: '.spec.limit.unit' },
      { name: 'Period', type: 'string', jsonPath: '.spec.period' },
      { name: 'Spent', type: 'number', jsonPath: '.status.spent' },
      { name: 'Remaining', type: 'number', jsonPath: '.status.remaining' },
      // A string, not a date: kubectl prints future dates as <invalid>.
      { name: 'Resets-At', type: 'string', jsonPath: '.status.resetsAt' },
      { name: 'Threshold', type: 'string', jsonPath: '.status.conditions[?(@.type=="ThresholdReached")].reason', priority: 1 },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      // A Budget on a route that does not exist caps nothing: it must not look healthy in kubectl get.
      { name: 'Resolved', type: 'string', jsonPath: condition('ResolvedRefs') },
      age,
    ],
  },
  {
    kind: 'DataPolicy',
    plural: 'datapolicies',
    singular: 'datapolicy',
    shortNames: ['dp', 'llmdatapolicy'],
    description:
      'DataPolicy decides what prompt and response content is captured for which traffic (namespaces, ServiceAccounts, API keys, routes), how it is redacted, where it may go and how long it lives. Without one, nothing is captured.',
    spec: DataPolicySpecSchema,
    status: DataPolicyStatusSchema,
    printerColumns: [
      { name: 'Mode', type: 'string', jsonPath: '.spec.capture.mode' },
      { name: 'Sample', type: 'number', jsonPath: '.spec.capture.sampleRate' },
      { name: 'Content-Retention', type: 'string', jsonPath: '.spec.retention.content', priority: 1 },
      { name: 'Metadata-Retention', type: 'string', jsonPath: '.spec.retention.metadata', priority: 1 },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      { name: 'Conflicted', type: 'string', jsonPath: condition('Conflicted'), priority: 1 },
      age,
    ],
  },
  {
    kind: 'UsageReport',
    plural: 'usagereports',
    singular: 'usagereport',
    shortNames: ['usage'],
    description:
      'UsageReport is the usage history of one namespace on one day (UTC): requests by outcome, tokens, cost, latency, by hour and by route, model, provider and caller. Written by the operator from the data planes\' usage reports; named after the day (YYYY-MM-DD).',
    spec: UsageReportSpecSchema,
    status: UsageReportStatusSchema,
    specRequired: false,
    printerColumns: [
      { name: 'Date', type: 'string', jsonPath: '.status.date' },
      { name: 'Requests', type: 'integer', jsonPath: '.status.totals.requests' },
      { name: 'Errors', type: 'integer', jsonPath: '.status.errors' },
      { name: 'Cost-USD', type: 'number', jsonPath: '.status.totals.costUsd' },
      { name: 'Input-Tokens', type: 'integer', jsonPath: '.status.totals.inputTokens' },
      { name: 'Output-Tokens', type: 'integer', jsonPath: '.status.totals.outputTokens' },
      { name: 'Cache-Hits', type: 'integer', jsonPath: '.status.totals.cacheHits', priority: 1 },
      { name: 'Failovers', type: 'integer', jsonPath: '.status.totals.failovers', priority: 1 },
      { name: 'Updated', type: 'string', jsonPath: '.status.updatedAt', priority: 1 },
    ],
  },
  {
    kind: 'GuardrailPolicy',
    plural: 'guardrailpolicies',
    singular: 'guardrailpolicy',
    shortNames: ['guardrail', 'grp'],
    description:
      'GuardrailPolicy checks the content of requests and responses (streams included) of a set of namespaces, ServiceAccounts, API keys or routes, and blocks, masks or monitors what its rules find; every decision names the policy and rule.',
    spec: GuardrailPolicySpecSchema,
    status: GuardrailPolicyStatusSchema,
    printerColumns: [
      // No column lists the rules: kubectl prints only the first element of a list.
      { name: 'Hold-Back', type: 'integer', jsonPath: '.spec.streaming.holdBackChars', priority: 1 },
      { name: 'Accepted', type: 'string', jsonPath: condition('Accepted') },
      { name: 'Resolved', type: 'string', jsonPath: condition('ResolvedRefs') },
      { name: 'Programmed', type: 'string', jsonPath: condition('Programmed') },
      age,
    ],
  },
];
