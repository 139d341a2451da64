import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * capture-ab's record content, and one source tree's capture code loaded from its .ts files (so two
 * trees compare in one process): the benches that time or weigh the capture worker's content work.
 */
export const PROMPT = 'Summarise the ticket from ann.lee@example.com (card 4111 1111 1111 1111, phone +44 20 7946 0958) in one short sentence.';
export const ANSWER = 'The customer asks for a one-sentence summary of their ticket.';
export const REQUEST_JSON = JSON.stringify({ messages: [{ role: 'user', content: PROMPT }] });
export const RESPONSE_JSON = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: ANSWER }, finish_reason: 'stop' }] });

export interface TreeDetectors {
  redact(text: string): { text: string; counts: Record<string, number>; complete: boolean };
}

export interface CaptureTree {
  detectors: TreeDetectors;
  /** The tree's Redacted policy with every built-in detector, as contentLine takes it. */
  policy: object;
  contentLine(parts: object, policy: object): string | undefined;
}

/**
 * A tree's detectors compiled with every built-in: from dataplane/policy/detectors/index.js when
 * the tree has it (bench/build-detectors.sh: plain modules; under tsx a .ts module's exports are
 * getters, a call on every use of an imported function), else from its .ts source.
 */
export async function loadTreeDetectors(root: string): Promise<TreeDetectors> {
  const base = `${resolve(root)}/dataplane/policy/detectors/index`;
  const d = (await import(existsSync(`${base}.js`) ? `${base}.js` : `${base}.ts`)) as {
    BUILTIN_DETECTORS: readonly string[];
    compileDetectors(spec: { detectors: readonly string[]; customPatterns: [] }): { ok: true; detectors: TreeDetectors } | { ok: false };
  };
  const compiled = d.compileDetectors({ detectors: d.BUILTIN_DETECTORS, customPatterns: [] });
  if (!compiled.ok) throw new Error(`${root}: detectors do not compile`);
  return compiled.detectors;
}

export async function loadCaptureTree(root: string): Promise<CaptureTree> {
  const dir = resolve(root);
  const detectors = await loadTreeDetectors(dir);
  const { BUILTIN_DETECTORS } = (await import(`${dir}/dataplane/policy/detectors/index.ts`)) as { BUILTIN_DETECTORS: readonly string[] };
  const { contentLine } = (await import(`${dir}/dataplane/policy/capture/serialise-capture.ts`)) as Pick<CaptureTree, 'contentLine'>;
  const config = { id: 'default/audit', mode: 'Redacted', parts: { request: true, response: true }, maxRecordBytes: 262_144, redaction: { detectors: BUILTIN_DETECTORS, customPatterns: [] } };
  return { detectors, policy: { config, detectors }, contentLine };
}
