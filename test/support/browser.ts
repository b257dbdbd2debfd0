import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where the browser tests find Chromium and put their screenshots, read once. */
const SETTINGS = {
  /** FLOWPOOL_TEST_CHROMIUM, or Debian's /usr/bin/chromium (scripts/bootstrap.sh installs it). */
  executablePath: process.env.FLOWPOOL_TEST_CHROMIUM || '/usr/bin/chromium',
  /** test-artifacts/console: git-ignored, kept by CI as artifacts. */
  artifactsDir: path.resolve('test-artifacts', 'console'),
};

/** A headless Chromium; fails with the fix when the binary is missing, never skips. */
export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(SETTINGS.executablePath)) {
    throw new Error(
      `Chromium not found at ${SETTINGS.executablePath}: install it (scripts/bootstrap.sh ` +
        '--test-tools does, Debian package chromium) or set FLOWPOOL_TEST_CHROMIUM',
    );
  }
  return chromium.launch({
    executablePath: SETTINGS.executablePath,
    // CI runs as root, where Chromium refuses to start with its sandbox.
    args: ['--no-sandbox'],
  });
}

/** Saves a full-page screenshot as <artifactsDir>/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SETTINGS.artifactsDir, { recursive: true });
  const file = path.join(SETTINGS.artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
