import { describe, expect, it } from 'vitest';
import { devBanner } from './dev-banner.js';

describe('the tollgate dev banner', () => {
  it('suggests a model the loaded manifests serve, not a fixed one', () => {
    const banner = devBanner('examples/quickstart', 'http://127.0.0.1:8080', ['gpt-4o', 'claude']);
    expect(banner).toContain('Tollgate is serving examples/quickstart at http://127.0.0.1:8080');
    expect(banner).toContain('"model":"claude"');
    expect(banner).not.toContain('mock-chat');
  });

  it('puts a credential in the curl under --auth (without one it gets 401), and only then', () => {
    const banner = devBanner('m', 'http://127.0.0.1:8080', ['chat'], true);
    expect(banner).toContain(`-H "authorization: Bearer $TOLLGATE_API_KEY"`);
    expect(banner).toMatch(/TOLLGATE_API_KEY is an API key from a Secret labelled tollgate.dev\/api-key: "true"/);
    expect(devBanner('m', 'http://127.0.0.1:8080', ['chat'])).not.toContain('authorization');
  });

  it('does not say "serving" when no route is served', () => {
    for (const models of [undefined, []]) {
      const banner = devBanner('m', 'http://127.0.0.1:8080', models);
      expect(banner).not.toMatch(/serving m|curl/);
      expect(banner).toMatch(/serves no model yet/);
    }
  });

  // A ModelRoute's model is any text its author chose, and manifests come from anywhere (an example
  // repository, a colleague's branch). Before, the banner printed it raw: a quote in it ended the
  // curl's single-quoted body, so the command it tells you to paste ran whatever followed, and
  // escape sequences in it reached the terminal.
  it('prints a model name so that the curl it suggests runs nothing else, and the terminal gets no control characters', () => {
    const model = "x'; touch /tmp/pwned; echo '\u001b]52;c;aGk=\u0007\u202e";
    const banner = devBanner('m', 'http://127.0.0.1:8080', [model]);
    const curl = banner.split('\n').filter((l) => l.includes(' -d '))[0] ?? '';
    // The shell's reading of the -d argument: one single-quoted word, quotes inside written '\''.
    const arg = /-d ('(?:[^']|'\\'')*')$/.exec(curl.trim())?.[1];
    expect(arg).toBeDefined();
    const word = (arg ?? '').slice(1, -1).replaceAll("'\\''", "'");
    expect(JSON.parse(word)).toMatchObject({ model: expect.stringContaining("x'; touch /tmp/pwned") });
    expect(banner).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  });
});

