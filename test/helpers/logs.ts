import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** One parsed pino JSON line: `level` is pino's number (30 info, 40 warn, 50 error), `msg` the message. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/**
 * A real pino logger whose JSON lines land in `lines`, parsed, so a test can assert on what a
 * service logs (fields, levels, that no stack or secret appears). `level` defaults to `debug`;
 * `service` becomes the `service` field, as the services' own loggers have it.
 */
export function capturingLogger(
  lines: { push(line: LogLine): number },
  options: { service?: string; level?: string } = {},
): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return pino(
    { level: options.level ?? 'debug', ...(options.service && { base: { service: options.service } }) },
    sink,
  );
}
