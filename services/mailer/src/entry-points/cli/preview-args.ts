import path from 'node:path';
import { parseArgs } from 'node:util';

/** What `--help` prints, and what a usage error is followed by. */
export const PREVIEW_USAGE = `Usage: npm run preview -- <order.json> [options]

Renders the confirmation email of an order (the body of POST /orders) exactly as the mailer
would send it, offline: no RabbitMQ, PostgreSQL or SMTP. Writes <name>.html and <name>.txt.

Options:
  --locale TAG               render in this language (BCP 47, e.g. de, de-CH, ar), instead of
                             the order's customer.locale
  --out DIR                  where to write (default: preview/)
  --name NAME                base name of the files written (default: the order file's name
                             without .json)
  --png                      also screenshot the email in headless Chromium (/usr/bin/chromium,
                             or $CHROMIUM_PATH): <name>-mobile.png (375 px wide) and
                             <name>-desktop.png (640 px wide), each as tall as the email
  --fetch-images             with --png: load the email's images from the network (by default
                             every image is a grey placeholder and nothing is fetched)
  --help, -h                 show this text

Shop settings (SHOP_NAME, SHOP_URL, BRAND_COLOR, ...) come from the environment, as the
mailer reads them.

Exit codes: 0 written, 1 the order file is missing, not JSON or not a valid order, or a file
could not be written or screenshotted, 2 bad usage.
`;

export interface PreviewOptions {
  command: 'preview';
  /** The order file, as given. */
  file: string;
  locale?: string;
  /** The output directory. */
  out: string;
  /** Base name of the files written. */
  name: string;
  png: boolean;
  fetchImages: boolean;
}

export type PreviewCommand = PreviewOptions | { command: 'help' } | { command: 'usage_error'; message: string };

export const DEFAULT_PREVIEW_OUT = 'preview';

/**
 * The widths an email is screenshotted (and, in test/browser, checked) at: a small phone, and a
 * desktop client's reading pane (emails are laid out for 600 px).
 */
export const EMAIL_WIDTHS = { mobile: 375, desktop: 640 } as const;
export type EmailWidthName = keyof typeof EMAIL_WIDTHS;

const usageError = (message: string): PreviewCommand => ({ command: 'usage_error', message });

/** A file name made of letters, digits, `.`, `_` and `-`, not starting with `.`. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      locale: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      png: { type: 'boolean' },
      'fetch-images': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Why a string option is unusable (empty, or another option taken as its value), or undefined. */
function badValue(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') return `--${option} needs a value`;
  if (value.startsWith('--')) return `--${option} needs a value, got the option "${value}"`;
  return undefined;
}

/**
 * Parses `npm run preview -- …` arguments (without `node` and the script). Never throws: an
 * unknown flag, a missing or extra file argument or a bad value is a `usage_error` naming it.
 * The locale's validity is the order schema's business (the same rule as `customer.locale`).
 */
export function parsePreviewArgs(argv: string[]): PreviewCommand {
  let parsed;
  try {
    parsed = readArgs(argv);
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (positionals.length === 0) return usageError('Give the order file to preview, e.g. samples/full.json');
  if (positionals.length > 1)
    return usageError(`Give one order file, got ${positionals.length}: ${positionals.join(' ')}`);
  for (const option of ['locale', 'out', 'name'] as const) {
    const problem = badValue(option, values[option]);
    if (problem) return usageError(problem);
  }
  if (values['fetch-images'] && !values.png) return usageError('--fetch-images only makes sense with --png');
  const [file] = positionals;
  const name = values.name ?? path.basename(file).replace(/\.json$/i, '');
  if (!SAFE_NAME.test(name)) {
    return usageError(
      `--name must be 1-100 letters, digits, ".", "_" or "-" (not starting with "."), got "${name}"` +
        (values.name === undefined ? ' (from the file name; give --name)' : ''),
    );
  }
  return {
    command: 'preview',
    file,
    ...(values.locale !== undefined && { locale: values.locale }),
    out: values.out ?? DEFAULT_PREVIEW_OUT,
    name,
    png: values.png === true,
    fetchImages: values['fetch-images'] === true,
  };
}
