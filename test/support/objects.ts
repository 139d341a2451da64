import { DataPolicySchema, type DataPolicy } from '../../operator/api/data-policy.js';
import { GuardrailPolicySchema, type GuardrailPolicy } from '../../operator/api/guardrail-policy.js';
import { BudgetSchema, type Budget } from '../../operator/api/budget.js';
import { ModelRouteSchema, type ModelRoute } from '../../operator/api/model-route.js';
import { ProviderSchema, type Provider } from '../../operator/api/provider.js';

/** Builders that go through the real zod schemas, so defaults apply as they would from the API server. */
export function provider(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): Provider {
  return ProviderSchema.parse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'Provider', metadata: { name, namespace: 'default', generation: 1, ...meta }, spec });
}

export function route(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): ModelRoute {
  return ModelRouteSchema.parse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'ModelRoute', metadata: { name, namespace: 'default', generation: 1, ...meta }, spec });
}

export function budget(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): Budget {
  return BudgetSchema.parse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'Budget', metadata: { name, namespace: 'default', generation: 1, ...meta }, spec });
}

export function dataPolicy(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): DataPolicy {
  return DataPolicySchema.parse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'DataPolicy', metadata: { name, namespace: 'default', generation: 1, ...meta }, spec });
}

export function guardrail(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): GuardrailPolicy {
  return GuardrailPolicySchema.parse({ apiVersion: 'tollgate.dev/v1alpha1', kind: 'GuardrailPolicy', metadata: { name, namespace: 'default', generation: 1, ...meta }, spec });
}
