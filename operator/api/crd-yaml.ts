import yaml from 'js-yaml';
import { buildCrd } from './crd-builder.js';
import { CRD_DEFINITIONS } from './crd-definitions.js';

const HEADER = '# Generated from operator/api by `make crds`. Do not edit by hand.\n';

export function renderCrdFiles(): { name: string; content: string }[] {
  return CRD_DEFINITIONS.map((def) => ({
    name: `tollgate.dev_${def.plural}.yaml`,
    content: HEADER + yaml.dump(buildCrd(def), { lineWidth: 120, noRefs: true, sortKeys: false }),
  }));
}
