// What the admin CLIs' argument parsers (`dlq-args.ts`, `suppressions-args.ts`) share: the
// connection options every command takes and how an option error is told. Pure.

/** The connection options every command takes. */
export interface CommonOptions {
  /** The mailer's admin API, without a trailing slash. */
  url: string;
  token?: string;
  json: boolean;
}

/** A command line that cannot be run: `message` says why (exit 2, with the usage). */
export type UsageError = { command: 'usage_error'; message: string };

export const usageError = (message: string): UsageError => ({ command: 'usage_error', message });

/**
 * `--url` (else MAILER_ADMIN_URL, else `http://127.0.0.1:3001`; an http:// or https:// URL, its
 * trailing slash dropped), `--token` (else ADMIN_TOKEN) and `--json`; a usage error naming `--url`.
 */
export function commonOptions(
  values: { url?: string; token?: string; json?: boolean },
  env: NodeJS.ProcessEnv,
): CommonOptions | UsageError {
  const url = (values.url ?? env.MAILER_ADMIN_URL ?? 'http://127.0.0.1:3001').replace(/\/$/, '');
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
    return usageError(`--url must be an http:// or https:// URL, got "${url}"`);
  }
  return { url, token: values.token ?? env.ADMIN_TOKEN, json: values.json === true };
}

/** A whole number within [min, max], or an error message naming the option. */
export function integerOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | string | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    return `--${name} must be a whole number from ${min} to ${max}, got "${value}"`;
  return n;
}
