import { accessSync, constants } from 'node:fs';
import { launch, type Browser, type HTTPRequest, type Page } from 'puppeteer-core';

/** Debian's `chromium` package; `CHROMIUM_PATH` names another. Never a browser a package downloaded. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * What every image of an email is answered with when images are not fetched: a 1×1 light grey
 * PNG (#e5e7eb), stretched by the `<img>`'s width and height, so the layout is the real one and
 * nothing goes over the network.
 */
export const PLACEHOLDER_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGN4+vw1AAVsArjSAflTAAAAAElFTkSuQmCC',
  'base64',
);

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
}

/**
 * Starts headless Chromium through puppeteer-core (a development dependency: only `npm run
 * preview` and the browser test load this module, never the mailer). Throws an Error naming the
 * fix when the executable is missing.
 */
export async function launchChromium(executablePath: string = chromiumPath()): Promise<Browser> {
  try {
    accessSync(executablePath, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found at ${executablePath}: install Debian's chromium package ` +
        '(bash scripts/setup-debian.sh, or apt-get install chromium), or set CHROMIUM_PATH to a Chromium executable',
    );
  }
  // As root (containers, CI) Chromium refuses to start with its sandbox on.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return launch({
    executablePath,
    headless: true,
    args: ['--disable-dev-shm-usage', '--font-render-hinting=none', ...(asRoot ? ['--no-sandbox'] : [])],
  });
}

/**
 * Answers a page's requests: images with `PLACEHOLDER_PNG` (or, with `fetchImages`, from the
 * network), everything else the email would load (web fonts, tracking pixels as CSS) refused, so
 * rendering never waits on the network.
 */
function answerRequest(request: HTTPRequest, fetchImages: boolean): Promise<void> {
  const url = request.url();
  if (url.startsWith('data:') || url === 'about:blank') return request.continue();
  if (request.resourceType() === 'image') {
    if (fetchImages) return request.continue();
    return request.respond({ status: 200, contentType: 'image/png', body: PLACEHOLDER_PNG });
  }
  return request.abort('blockedbyclient');
}

/**
 * A new page `width` px wide showing `html` (an email's HTML part), images answered as
 * `answerRequest` says; resolves once it has loaded (its images included).
 */
export async function openEmail(
  browser: Browser,
  html: string,
  options: { width: number; fetchImages?: boolean },
): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: options.width, height: 800, deviceScaleFactor: 1 });
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    answerRequest(request, options.fetchImages === true).catch(() => undefined);
  });
  await page.setContent(html, { waitUntil: 'load' });
  return page;
}

/** Where the email's content ends, in CSS px from the top of the document (the body's bottom margin included). */
const CONTENT_HEIGHT = `(() => {
  const body = document.body;
  const margin = parseFloat(getComputedStyle(body).marginBottom) || 0;
  return Math.ceil(body.getBoundingClientRect().bottom + window.scrollY + margin);
})()`;

/**
 * A PNG of the whole email as the page shows it: the viewport's width, exactly as tall as the
 * content (a short email has no empty band below). A clip beyond the viewport rather than
 * `fullPage`, which Chromium shifts sideways on right-to-left pages.
 */
export async function screenshotEmail(page: Page, file: string): Promise<void> {
  const width = page.viewport()?.width ?? 640;
  const height = Math.max(1, (await page.evaluate(CONTENT_HEIGHT)) as number);
  await page.screenshot({
    path: file as `${string}.png`,
    type: 'png',
    clip: { x: 0, y: 0, width, height },
    captureBeyondViewport: true,
  });
}
