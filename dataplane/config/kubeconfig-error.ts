/**
 * A kubeconfig's YAML error with js-yaml's first line only (its reason and position), as the
 * manifest loader reports YAML errors: the lines it quotes around the fault may hold the file's
 * token or key, and the error goes to stderr and the pod's log. Any other error is returned as is.
 * In config/ because the operator and the CLI read kubeconfigs too.
 */
export function kubeconfigError(file: string, err: unknown): unknown {
  if (!(err instanceof Error) || err.name !== 'YAMLException') return err;
  return new Error(`${file}: not valid YAML: ${err.message.split('\n')[0] ?? ''}`);
}
