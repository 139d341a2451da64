// The console tests' browser: Debian's Chromium (test/console/ensure-chromium.sh, `make chromium`),
// driven by playwright-core, which downloads no browser of its own.
import { execFileSync } from 'node:child_process';
import { type Browser, chromium, type Page } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser']).toString().trim();
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}

/**
 * A new page of the console at `url`, loaded as a viewer does it: the token, the namespace ('' = all
 * they may read), Load; resolved once the page says it is done (or failed). `prepare` runs before
 * the page is opened (a clock, request listeners).
 */
export async function openConsole(browser: Browser, url: string, token: string, namespace: string, prepare?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await prepare?.(page);
  await page.goto(url);
  await page.fill('#token', token);
  await page.fill('#namespace', namespace);
  await page.click('button[type=submit]');
  await page.waitForSelector('#message[data-state=done], #message[data-state=error]');
  return page;
}
