// A real browser for the page tests: Debian's chromium (apt install chromium; deploy/setup.sh --test installs
// it), driven by playwright-core with executablePath. Nothing is downloaded; each run has a fresh profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { projectRoot } from '../../src/system/paths.js';

export const CHROMIUM = process.env['EMOTIOND_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined. */
export function missingChromium(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt install chromium, or deploy/setup.sh --test)`;
}

/** Where tests write what a person should look at (screenshots): reports/test-artifacts/ (git-ignored). */
export function artifactPath(name: string): string {
  const dir = path.join(projectRoot(), 'reports', 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless chromium, offline-quiet, with a fresh --user-data-dir that is removed on close. */
export async function launchBrowser(viewport: { width: number; height: number }): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
