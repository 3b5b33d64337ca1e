// The browser side of test/browser (run by `startChromium()` in chromium.ts, as a child process:
// puppeteer-core is an ES module, which jest's CommonJS runtime cannot load). Launches one
// headless Chromium, then for each request from the parent opens the HTML at the given width
// (images answered with a placeholder, nothing fetched), evaluates the script, optionally saves
// a screenshot, and answers with the script's result. On "close", closes the browser and exits.
import { launchChromium, openEmail, screenshotEmail } from '../../services/mailer/src/entry-points/cli/preview-browser';
import type { ChromiumReply, ChromiumRequest } from './chromium';

const browser = launchChromium();
// Reported on the first request rather than crashing the child before it can say why.
browser.catch(() => undefined);

async function inspect(request: Extract<ChromiumRequest, { type: 'inspect' }>): Promise<ChromiumReply> {
  const page = await openEmail(await browser, request.html, { width: request.width });
  try {
    const result: unknown = await page.evaluate(request.script);
    if (request.screenshot) await screenshotEmail(page, request.screenshot);
    return { id: request.id, result };
  } finally {
    await page.close();
  }
}

process.on('message', (request: ChromiumRequest) => {
  if (request.type === 'close') {
    void browser
      .then((b) => b.close())
      .catch(() => undefined)
      .finally(() => process.exit(0));
    return;
  }
  inspect(request)
    .catch((err: unknown): ChromiumReply => ({
      id: request.id,
      error: err instanceof Error ? err.message : String(err),
    }))
    .then((reply) => process.send?.(reply))
    .catch(() => undefined);
});
