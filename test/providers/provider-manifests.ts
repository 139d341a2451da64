import type { UsageRecord } from '../../dataplane/metering/usage-record.js';
import type { TestGateway } from '../support/dev-gateway.js';

// Manifests and usage capture shared by the provider suites. Every document ends with `---`.

/** A Provider; `model` adds a priced model entry (input 1, output 2, cached input 0.5 USD per million tokens). */
export function providerManifest(name: string, type: string, url: string, credentials: string, extra = '', model?: string): string {
  const models = model === undefined ? '' : `  models:\n    - name: ${JSON.stringify(model)}\n      pricing: { input: 1, output: 2, cachedInput: 0.5 }\n`;
  return `apiVersion: tollgate.dev/v1alpha1
kind: Provider
metadata: { name: ${name} }
spec:
  type: ${type}
  url: ${url}
  credentials: ${credentials}
${extra}${models}---
`;
}

export function secretManifest(name: string, data: Record<string, string>): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name} }
stringData: ${JSON.stringify(data)}
---
`;
}

/** A client API key Secret (labelled tollgate.dev/api-key) in the default namespace. */
export function apiKeySecretManifest(name: string, key: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, labels: { tollgate.dev/api-key: "true" } }
stringData: { key: ${key} }
---
`;
}

/** Every usage record the gateway writes from now on, in order. */
export function captureUsage(gateway: TestGateway): UsageRecord[] {
  const records: UsageRecord[] = [];
  const sink = gateway.dataplane.usage;
  const original = sink.record.bind(sink);
  sink.record = (u: UsageRecord) => {
    records.push(u);
    original(u);
  };
  return records;
}

/** A ModelRoute over targets in priority order (each later one a fallback of the one before). */
export function routeManifest(name: string, targets: [provider: string, model: string][], retry = '{ attempts: 1 }', timeouts = '{ total: 20s, streamIdle: 5s }'): string {
  return `apiVersion: tollgate.dev/v1alpha1
kind: ModelRoute
metadata: { name: ${name} }
spec:
  model: ${name}
  targets:
${targets.map(([p, m], i) => `    - { providerRef: { name: ${p} }, model: ${JSON.stringify(m)}, priority: ${i * 10} }`).join('\n')}
  retry: ${retry}
  timeouts: ${timeouts}
---
`;
}
