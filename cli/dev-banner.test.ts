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
});
