import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isAppError, type FieldIssue } from '@order-mail/shared/contract';
import type { ComposeOrderEmailDeps } from '../../domain/compose-order-email';
import { parseOrder } from '@order-mail/shared/contract';
import { localeSchema, previewOrderEmail, type OrderEmailPreview } from '../../domain/order-preview';
import {
  EMAIL_WIDTHS,
  parsePreviewArgs,
  PREVIEW_USAGE,
  type EmailWidthName,
  type PreviewOptions,
} from './preview-args';

/** Where the command writes and reads, so a test can run it in-process. */
export interface PreviewIo {
  env: NodeJS.ProcessEnv;
  /** Relative paths (the order file, --out) are resolved against this directory. */
  cwd: string;
  out(line: string): void;
  err(line: string): void;
  /** The templates and email settings, as the mailer makes them from its config (`env`). */
  composeDeps(env: NodeJS.ProcessEnv): Promise<ComposeOrderEmailDeps>;
}

/** A failure the command reports in one message and exits on. */
class PreviewFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const issueLines = (details: FieldIssue[]) => details.map((d) => `  ${d.path || '(the order)'}: ${d.message}`);

/** The order file's order, validated as `POST /orders` validates it; a `PreviewFailure` naming what is wrong otherwise. */
async function readOrder(file: string, shown: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new PreviewFailure(`Cannot read the order file ${shown}: ${why}`, 1);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new PreviewFailure(`${shown} is not JSON: ${(err as Error).message}`, 1);
  }
  try {
    return parseOrder(body);
  } catch (err) {
    if (!isAppError(err)) throw err;
    const details = (err.details ?? []) as FieldIssue[];
    throw new PreviewFailure(
      [`${shown} is not a valid order (POST /orders would answer 400):`, ...issueLines(details)].join('\n'),
      1,
    );
  }
}

function checkedLocale(locale: string | undefined): string | undefined {
  if (locale === undefined) return undefined;
  const result = localeSchema.safeParse(locale);
  if (!result.success) {
    throw new PreviewFailure(`--locale "${locale}": ${result.error.issues.map((i) => i.message).join('; ')}`, 2);
  }
  return result.data;
}

async function writeParts(dir: string, name: string, preview: OrderEmailPreview): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = [path.join(dir, `${name}.html`), path.join(dir, `${name}.txt`)];
  await writeFile(files[0], preview.html);
  await writeFile(files[1], preview.text);
  return files;
}

/** `<name>-mobile.png` (375 px) and `<name>-desktop.png` (640 px), each as tall as the email. */
async function writeScreenshots(dir: string, options: PreviewOptions, html: string, env: NodeJS.ProcessEnv) {
  // puppeteer-core, only with --png.
  const { launchChromium, openEmail, screenshotEmail } = await import('./preview-browser.js');
  let browser;
  try {
    browser = await launchChromium(env.CHROMIUM_PATH || undefined);
  } catch (err) {
    throw new PreviewFailure(`Cannot take screenshots: ${(err as Error).message}`, 1);
  }
  try {
    const files: string[] = [];
    for (const [which, width] of Object.entries(EMAIL_WIDTHS) as [EmailWidthName, number][]) {
      const page = await openEmail(browser, html, { width, fetchImages: options.fetchImages });
      const file = path.join(dir, `${options.name}-${which}.png`);
      await screenshotEmail(page, file);
      await page.close();
      files.push(file);
    }
    return files;
  } finally {
    await browser.close();
  }
}

/** A path as the user would type it: relative to `cwd` when inside it, else absolute. */
function shownPath(cwd: string, file: string): string {
  const relative = path.relative(cwd, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

async function preview(options: PreviewOptions, io: PreviewIo): Promise<void> {
  const file = path.resolve(io.cwd, options.file);
  const locale = checkedLocale(options.locale);
  const order = await readOrder(file, options.file);
  const deps = await io.composeDeps(io.env);
  const meta = { eventId: randomUUID(), correlationId: 'preview', acceptedAt: new Date() };
  const email = previewOrderEmail({ order, locale }, meta, deps);
  const dir = path.resolve(io.cwd, options.out);
  const written = await writeParts(dir, options.name, email);
  if (options.png) written.push(...(await writeScreenshots(dir, options, email.html, io.env)));
  io.out(`Subject: ${email.subject}`);
  for (const f of written) io.out(`wrote ${shownPath(io.cwd, f)}`);
}

/**
 * `npm run preview -- <order.json> [--locale TAG] [--out DIR] [--name NAME] [--png]`: the email
 * the mailer would send for an order, composed offline. Returns the exit code: 0 written, 1 the
 * order file or an output could not be used (the message says which and why), 2 bad usage.
 */
export async function runPreview(argv: string[], io: PreviewIo): Promise<number> {
  const args = parsePreviewArgs(argv);
  if (args.command === 'help') {
    io.out(PREVIEW_USAGE.trimEnd());
    return 0;
  }
  if (args.command === 'usage_error') {
    io.err(`${args.message}\n\n${PREVIEW_USAGE.trimEnd()}`);
    return 2;
  }
  try {
    await preview(args, io);
    return 0;
  } catch (err) {
    if (err instanceof PreviewFailure) {
      io.err(err.message);
      return err.exitCode;
    }
    io.err(`preview failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
