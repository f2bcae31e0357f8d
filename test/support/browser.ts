import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Sandbox } from '../../local/sandbox';

/**
 * Debian chromium, driven by playwright-core, for the end-to-end tests against the sandbox:
 * a fresh profile that trusts exactly the sandbox's server key, the dev IdP's sign-in form,
 * and `toBeVisibleSoon` (playwright-core has no test runner of its own).
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Fails early, with the fix, when chromium is not installed. */
export function requireChromium(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it), or set CHROMIUM_PATH`,
    );
  }
}

/** A fresh browser profile in `profileDir` that trusts exactly the sandbox's certificate key. */
export function browserTrusting(sandbox: Sandbox, profileDir: string): Promise<BrowserContext> {
  const spki = createHash('sha256')
    .update(new X509Certificate(sandbox.tls.cert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Trust only the sandbox's own server key, not every certificate.
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
}

/** The context's first page. */
export async function firstPage(context: BrowserContext): Promise<Page> {
  return context.pages()[0] ?? (await context.newPage());
}

/** Signs in at the dev IdP's form (any provider family) as `user`. */
export async function signInAtDevIdp(page: Page, user: string): Promise<void> {
  await page.getByLabel(/user/i).fill(user);
  await page.getByRole('button', { name: /^Sign in$/ }).click();
}

expect.extend({
  async toBeVisibleSoon(locator: {
    waitFor(o: { state: 'visible'; timeout: number }): Promise<void>;
  }) {
    try {
      await locator.waitFor({ state: 'visible', timeout: 15_000 });
      return { pass: true, message: () => 'visible' };
    } catch (e) {
      return { pass: false, message: () => `not visible: ${(e as Error).message}` };
    }
  },
});

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      toBeVisibleSoon(): Promise<R>;
    }
  }
}
