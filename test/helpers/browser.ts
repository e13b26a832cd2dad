// A real browser for the web console tests: Debian's chromium driven by playwright-core. The flags
// keep it off the (closed) network and quick to start; screenshots go to a git-ignored folder so a
// person can look at each page after a run.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = new URL('../..', import.meta.url).pathname;
export const SCREENSHOTS = join(root, '.cache/screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
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
    timeout: 30_000,
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Console errors, CSP violations and uncaught exceptions of a page, for a test to assert there are none. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  return problems;
}

/** Opens a console page (`#/name`) and waits until it has rendered. */
export async function openPage(page: Page, base: string, area: 'admin' | 'account', name: string): Promise<void> {
  await page.goto(`${base}/${area}#/${name}`);
  await page.waitForSelector(`main[data-ready="${name}"]`, { timeout: 15_000 });
}

const AXE = readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it is now ("rule: help (where)").
 * Evaluated through the DevTools protocol, not a <script> tag: the console's CSP (rightly) refuses
 * inline script, and the check must not weaken the page it checks.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(options: object): Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const { violations } = await axe.run({ resultTypes: ['violations'] });
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map(
        (v) =>
          `${v.id} (${v.impact}): ${v.help} at ${v.nodes
            .slice(0, 3)
            .map((n) => n.target.join(' '))
            .join('; ')}`,
      );
  });
}
