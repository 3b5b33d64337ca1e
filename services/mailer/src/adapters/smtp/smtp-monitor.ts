import { maskUrlPassword } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import type { SmtpTransport } from './smtp-transport';

/** Recheck interval while the SMTP server is not usable. */
const NOT_READY_RECHECK_MS = 5000;

export interface SmtpMonitor {
  /** Runs one verify now, unless one is under way (then joins it). Never rejects. */
  check(): Promise<void>;
  /** Stops the periodic checks. */
  stop(): void;
}

/**
 * Keeps the transport's state (`ready`, `unreachable`, `auth_failed`) current for readiness: a
 * check now, then every 5 s while not ready and every `readyIntervalMs` while ready, so a server
 * that went away is noticed before the next order is. A verify opens a connection of its own (not
 * one of the pool's), so a check while sends are under way does not disturb them. One check at a
 * time; a failure is logged when the state changes, not at every check. `smtpUrl` is logged with
 * its password masked.
 */
export function startSmtpMonitor(options: {
  transport: SmtpTransport;
  smtpUrl: string;
  readyIntervalMs: number;
  logger: Logger;
}): SmtpMonitor {
  const { transport, logger } = options;
  const smtpUrl = maskUrlPassword(options.smtpUrl);
  let running: Promise<void> | null = null;
  let checkedOnce = false;

  const verify = async () => {
    const before = checkedOnce ? transport.state() : null;
    try {
      await transport.verify();
      if (before !== null && before !== 'ready')
        logger.info({ setting: 'SMTP_URL', smtpUrl }, 'SMTP server usable again');
    } catch (err) {
      const state = transport.state();
      const fields = {
        setting: 'SMTP_URL',
        smtpUrl,
        error: (err as Error).message,
        code: (err as { code?: unknown }).code,
      };
      if (state === before) logger.debug(fields, 'SMTP server still not usable');
      else if (state === 'auth_failed') logger.error(fields, 'SMTP server refused our credentials');
      else logger.warn(fields, 'SMTP server not reachable');
    } finally {
      checkedOnce = true;
      running = null;
    }
  };
  const check = () => (running ??= verify());

  void check();
  const whileDown = setInterval(() => {
    if (transport.state() !== 'ready') void check();
  }, NOT_READY_RECHECK_MS);
  const whileReady = setInterval(() => {
    if (transport.state() === 'ready') void check();
  }, options.readyIntervalMs);
  whileDown.unref();
  whileReady.unref();
  return {
    check,
    stop() {
      clearInterval(whileDown);
      clearInterval(whileReady);
    },
  };
}
