/** A Kubernetes label selector (structurally the same as the CRD field). */
export interface LabelSelector {
  matchLabels?: Record<string, string> | undefined;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] | undefined }[] | undefined;
}

const NO_LABELS: Record<string, string> = {};

/**
 * A namespace's labels as the snapshot has them, none when it has no entry. Own entries only:
 * `constructor` is a valid namespace name, and read from a plain object it was Object.prototype's.
 */
export function namespaceLabels(namespaces: Readonly<Record<string, Record<string, string>>>, namespace: string | undefined): Record<string, string> {
  return namespace !== undefined && Object.hasOwn(namespaces, namespace) ? (namespaces[namespace] ?? NO_LABELS) : NO_LABELS;
}

export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!present || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (present && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}
