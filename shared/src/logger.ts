import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs to stdout, one line per event, with the service name on every line. */
export function createLogger(options: { service: string; level: string }): Logger {
  return pino({
    level: options.level,
    base: { service: options.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['customer.email', '*.customer.email', 'to', 'email'], censor: '[redacted]' },
  });
}
