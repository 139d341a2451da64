/**
 * What `tollgate dev` prints once it listens: a curl that works with the manifests actually loaded
 * (a model one of their routes serves), or, when no route is served, that nothing is yet and why.
 */
export function devBanner(dir: string, url: string, models: readonly string[] | undefined): string {
  if (models === undefined || models.length === 0) {
    const why = models === undefined ? 'no valid configuration was loaded (see the errors above)' : 'the manifests define no ModelRoute';
    return `\nTollgate is listening at ${url} but serves no model yet: ${why}.\nEdit the manifests in ${dir}; they are reloaded on change.\n\n`;
  }
  const model = [...models].sort()[0] ?? '';
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  return `\nTollgate is serving ${dir} at ${url} (models: ${[...models].sort().join(', ')})\nTry:\n  curl -s ${url}/v1/chat/completions -H 'content-type: application/json' \\\n    -d '${body}'\n\n`;
}
