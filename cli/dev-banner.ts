import { printable, printableJson, shellWord } from './printable.js';

/**
 * What `tollgate dev` prints once it listens: a curl that works with the manifests actually loaded
 * (a model one of their routes serves), or, when no route is served, that nothing is yet and why.
 */
export function devBanner(dir: string, url: string, models: readonly string[] | undefined, auth = false): string {
  if (models === undefined || models.length === 0) {
    const why = models === undefined ? 'no valid configuration was loaded (see the errors above)' : 'the manifests define no ModelRoute';
    return `\nTollgate is listening at ${url} but serves no model yet: ${why}.\nEdit the manifests in ${dir}; they are reloaded on change.\n\n`;
  }
  const model = [...models].sort()[0] ?? '';
  // The model is text the manifest's author chose: quoted so that the suggested command sends it and
  // runs nothing else, escaped so that the terminal shows it and acts on nothing in it.
  const body = shellWord(printableJson({ model, messages: [{ role: 'user', content: 'Hello!' }] }));
  // Under --auth a curl without a credential gets 401: name the header and where a credential comes from.
  const credential = auth ? ` -H "authorization: Bearer $TOLLGATE_API_KEY" \\\n   ` : '';
  const where = auth ? '(--auth: TOLLGATE_API_KEY is an API key from a Secret labelled tollgate.dev/api-key: "true", or a ServiceAccount token with --kubeconfig; docs/governance.md)\n' : '';
  return `\nTollgate is serving ${dir} at ${url} (models: ${[...models].sort().map(printable).join(', ')})\nTry:\n  curl -s ${url}/v1/chat/completions -H 'content-type: application/json' \\\n   ${credential} -d ${body}\n${where}\n`;
}
