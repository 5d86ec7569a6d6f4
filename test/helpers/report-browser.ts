/**
 * Opens an HTML report from disk in Debian's Chromium (/usr/bin/chromium, driven by
 * playwright-core; no browser is downloaded) and tells what a person would see: every chart card
 * and whether its canvas has a coloured series on it, console errors, page errors, and every
 * request the page made (a self-contained report makes none but its own file).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

/** Where Debian puts Chromium (.ci/run installs it); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** How long a report may take to draw before the test gives up on it. */
const REPORT_READY_TIMEOUT_MS = 20_000;

export interface ChartSeen {
  readonly title: string;
  readonly canvasWidth: number;
  readonly canvasHeight: number;
  /** Pixels of a series' colour (not the grey and black of axes and grid). */
  readonly colouredPixels: number;
}

export interface ReportSeen {
  readonly ready: string | null;
  readonly title: string;
  readonly charts: ChartSeen[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  /** Requests other than the report file itself (should be none). */
  readonly otherRequests: string[];
  readonly failedRequests: string[];
  readonly errorBanner: string;
  /** The page's visible text. */
  readonly text: string;
}

/**
 * Run in the page (a string: the test code is typechecked without the DOM's types). A chart is
 * drawn when its canvas has pixels of a series' colour, not only the grey and black of axes.
 */
const LOOK_AT_PAGE = `(() => {
  const charts = [...document.querySelectorAll('.chart')].map((card) => {
    const canvas = card.querySelector('canvas');
    let coloured = 0;
    if (canvas !== null && canvas.width > 0 && canvas.height > 0) {
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < pixels.length; i += 4) {
        const r = pixels[i], g = pixels[i + 1], b = pixels[i + 2], a = pixels[i + 3];
        if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured += 1;
      }
    }
    return { title: card.getAttribute('data-chart') || '', canvasWidth: canvas ? canvas.width : 0, canvasHeight: canvas ? canvas.height : 0, colouredPixels: coloured };
  });
  const banner = document.getElementById('report-error');
  return { ready: document.body.getAttribute('data-ready'), title: document.title, charts, errorBanner: banner ? banner.textContent : '', text: document.body.innerText };
})()`;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium (.ci/run does)`);
  // --no-sandbox: CI and the dev machines run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

export async function openReport(browser: Browser, path: string, options: { screenshotPath?: string; width?: number } = {}): Promise<ReportSeen> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1200, height: 900 }, deviceScaleFactor: 1 });
  const fileUrl = pathToFileURL(path).href;
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const otherRequests: string[] = [];
  const failedRequests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('request', (request) => {
    if (request.url() !== fileUrl) otherRequests.push(request.url());
  });
  page.on('requestfailed', (request) => failedRequests.push(`${request.url()}: ${request.failure()?.errorText ?? '?'}`));
  // Anything but the file itself is refused, so a report that needs the network shows it.
  await page.route('**/*', (route) => (route.request().url() === fileUrl ? route.continue() : route.abort()));
  try {
    await page.goto(fileUrl);
    await page.waitForSelector('body[data-ready]', { timeout: REPORT_READY_TIMEOUT_MS });
    const seen = (await page.evaluate(LOOK_AT_PAGE)) as Omit<ReportSeen, 'consoleErrors' | 'pageErrors' | 'otherRequests' | 'failedRequests'>;
    if (options.screenshotPath !== undefined) await page.screenshot({ path: options.screenshotPath, fullPage: true });
    return { ...seen, consoleErrors, pageErrors, otherRequests, failedRequests };
  } finally {
    await page.close();
  }
}

/** A page every chart of which is drawn (`chartsExpected` of them), with no error, banner or request. */
export function expectCleanPage(seen: ReportSeen, chartsExpected: number): void {
  expect(seen.errorBanner).toBe('');
  expect(seen.ready).toBe('true');
  expect(seen.consoleErrors).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
  expect(seen.otherRequests).toEqual([]);
  expect(seen.failedRequests).toEqual([]);
  expect(seen.charts).toHaveLength(chartsExpected);
  for (const chart of seen.charts) {
    expect(chart.canvasWidth, chart.title).toBeGreaterThan(0);
    expect(chart.colouredPixels, `chart "${chart.title}" has nothing drawn`).toBeGreaterThan(50);
  }
}

/** A browser and a scratch directory for the tests of one file: launched before them, gone after them. */
export function browserForTests(dirPrefix: string, timeoutMs: number): { browser(): Browser; dir(): string } {
  let browser: Browser | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
  }, timeoutMs);
  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    browser: () => {
      if (browser === undefined) throw new Error('the browser is not up (beforeAll failed)');
      return browser;
    },
    dir: () => {
      if (dir === undefined) throw new Error('no scratch directory (beforeAll failed)');
      return dir;
    },
  };
}
