import { compileHeaderPattern, MAX_ROUTE_PROGRAM_SIZE } from './header-pattern.js';
import { isSupportedProviderType, type ProviderConfig, requiredSettings, type RouteConfig } from './snapshot.js';
import type { GuardrailConfig } from './guardrail-config.js';
import { compileContentPattern, MAX_TOTAL_CUSTOM_PROGRAM_SIZE } from './content-detectors.js';

/**
 * What the data plane checks when it loads a snapshot, beyond the zod schema, one object at a time.
 * compile runs the same checks on each object it emits and refuses a failing object alone, so that
 * whatever the operator publishes, the data plane can load.
 */

/** A problem with one field of a snapshot object; `path` is relative to the object (e.g. `matches[0].headers[1].value`). */
export interface LoadProblem {
  path: string;
  message: string;
}

/**
 * A type this data plane serves, with the settings block the type cannot work without (see
 * requiredSettings in the contract); compile guarantees them, an untrusted snapshot may not.
 */
export function providerLoadProblem(p: ProviderConfig): LoadProblem | undefined {
  if (!isSupportedProviderType(p.type)) return { path: 'type', message: `unsupported type ${p.type}` };
  const settings = requiredSettings(p.type);
  if (settings !== null && p[settings] === undefined) return { path: settings, message: `a ${p.type} provider needs its ${settings} settings` };
  return undefined;
}

type HeaderMatch = RouteConfig['matches'][number]['headers'][number];

/** Problems of each RegularExpression, and the sum of their RE2 program sizes. */
function headerProblems(headers: readonly HeaderMatch[], at: string, total: { programSize: number }): LoadProblem[] {
  return headers.flatMap((h, i) => {
    if (h.type !== 'RegularExpression') return [];
    const compiled = compileHeaderPattern(h.value);
    if (!compiled.ok) return [{ path: `${at}[${i}].value`, message: `invalid regular expression (RE2 syntax): ${compiled.error}` }];
    total.programSize += compiled.pattern.programSize;
    if (total.programSize <= MAX_ROUTE_PROGRAM_SIZE) return [];
    return [{ path: `${at}[${i}].value`, message: `the route's regular expressions together exceed RE2 program size ${MAX_ROUTE_PROGRAM_SIZE}` }];
  });
}

/** Every problem of one route: its header patterns, its rules' target indexes, its targets' providers. */
export function routeLoadProblems(r: RouteConfig, providerIds: ReadonlySet<string>): LoadProblem[] {
  const problems: LoadProblem[] = [];
  const regex = { programSize: 0 };
  r.matches.forEach((m, i) => problems.push(...headerProblems(m.headers, `matches[${i}].headers`, regex)));
  r.rules?.forEach((rule, i) => {
    problems.push(...headerProblems(rule.when?.headers ?? [], `rules[${i}].when.headers`, regex));
    rule.targets.forEach((index, j) => {
      if (index >= r.targets.length) problems.push({ path: `rules[${i}].targets[${j}]`, message: `rule target ${index} is not among the route's ${r.targets.length} targets` });
    });
  });
  r.targets.forEach((t, i) => {
    if (!providerIds.has(t.providerId)) problems.push({ path: `targets[${i}].providerId`, message: `target provider ${t.providerId} is not in the snapshot` });
  });
  return problems;
}

/** Every problem of one GuardrailPolicy's custom patterns: what RE2 refuses, finds too complex, or a name used twice. */
export function guardrailLoadProblems(g: GuardrailConfig): LoadProblem[] {
  return g.rules.flatMap((rule, i) => {
    const d = rule.detector;
    if (d.kind !== 'patterns') return [];
    const at = `rules[${i}].detector.patterns`;
    const problems: LoadProblem[] = [];
    const names = new Set<string>();
    let total = 0;
    d.patterns.forEach((p, j) => {
      if (names.has(p.name)) problems.push({ path: `${at}[${j}].name`, message: `duplicate name "${p.name}"` });
      names.add(p.name);
      const compiled = compileContentPattern(p.name, p.pattern);
      if (!compiled.ok) problems.push({ path: `${at}[${j}].${compiled.error.startsWith('name') ? 'name' : 'pattern'}`, message: compiled.error });
      else total += compiled.programSize;
    });
    if (total > MAX_TOTAL_CUSTOM_PROGRAM_SIZE) problems.push({ path: at, message: `too complex together: RE2 program sizes sum to ${total}, more than ${MAX_TOTAL_CUSTOM_PROGRAM_SIZE}` });
    return problems;
  });
}
