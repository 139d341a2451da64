/**
 * A large, realistic snapshot made by the operator's compile step: N ModelRoutes (three failover
 * targets over 50 Providers in 10 namespaces, an API-key selector, two rate limits each), 1,000 API
 * keys, 100 Budgets, 20 GuardrailPolicies and 10 DataPolicies.
 */
import { compile } from '../../operator/compile/compile.js';
import type { CompileInput, SecretInput } from '../../operator/compile/types.js';
import { budget, dataPolicy, guardrail, provider, route } from './objects.js';

export function bigInput(routes: number, keys = 1000): CompileInput {
  const P = 50;
  const NS = 10;
  const providers = Array.from({ length: P }, (_, p) => provider(`up-${p}`, { type: 'openai-compatible', url: `http://127.0.0.1:${10000 + p}/v1`, allowedRoutes: { namespaces: { from: 'All' } }, credentials: { secretRef: { name: `cred-${p}`, key: 'apiKey' } }, models: [{ name: `model-${p}`, pricing: { input: 0.15, output: 0.6 } }] }, { namespace: `team-${p % NS}` }));
  const secrets: SecretInput[] = [];
  for (let p = 0; p < P; p++) secrets.push({ namespace: `team-${p % NS}`, name: `cred-${p}`, data: { apiKey: `sk-upstream-${p}` } });
  for (let k = 0; k < keys; k++) secrets.push({ namespace: `team-${k % NS}`, name: `key-${k}`, data: { key: `tg-caller-key-${k}-xxxxxxxxxxxx` }, labels: { 'tollgate.dev/api-key': 'true', tier: k % 2 === 0 ? 'gold' : 'silver' } });
  const rs = Array.from({ length: routes }, (_, r) => route(`route-${r}`, {
    model: `public-model-${r}`,
    strategy: 'failover',
    targets: [0, 1, 2].map((i) => { const a = (r + i) % P; return { providerRef: { name: `up-${a}`, namespace: `team-${a % NS}` }, model: `model-${a}`, priority: i * 10 }; }),
    retry: { attempts: 2 },
    timeouts: { attempt: '30s', total: '60s' },
    access: { anonymous: false, apiKeys: { selector: { matchLabels: { tier: 'gold' } } } },
    rateLimits: [{ per: 'Route', requestsPerMinute: 1000, tokensPerMinute: 1000000 }, { per: 'Caller', requestsPerMinute: 100, tokensPerMinute: 100000 }],
  }, { namespace: `team-${r % NS}` }));
  const budgets = Array.from({ length: 100 }, (_, b) => budget(`b-${b}`, { limit: { amount: 1000 }, period: 'Month', subjects: { namespaces: [`team-${b % NS}`] } }, { namespace: `team-${b % NS}` }));
  const guardrails = Array.from({ length: 20 }, (_, g) => guardrail(`g-${g}`, { subjects: { namespaces: [`team-${g % NS}`] }, rules: [{ name: 'cards', phase: 'Request', action: 'Block', detector: { builtin: ['PaymentCard'] } }, { name: 'mail', phase: 'Response', action: 'Mask', detector: { builtin: ['Email'] } }] }, { namespace: `team-${g % NS}` }));
  const dataPolicies = Array.from({ length: 10 }, (_, d) => dataPolicy(`d-${d}`, { subjects: { namespaces: [`team-${d}`] }, capture: { mode: 'Redacted' }, destinations: [{ name: 'collector', otlpLogs: { endpoint: 'http://127.0.0.1:4318/' } }] }, { namespace: `team-${d}` }));
  return { providers, routes: rs, budgets, guardrails, dataPolicies, secrets, apiKeyHashKey: 'install-key-0123456789' };
}
