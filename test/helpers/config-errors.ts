import { AppError, ErrorCodes } from '@order-mail/shared';

/** Runs a config loader expecting it to throw; returns the error so the test can assert on it. */
export function configError(load: (env: NodeJS.ProcessEnv) => unknown, env: NodeJS.ProcessEnv): AppError {
  let caught: unknown;
  try {
    load(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe(ErrorCodes.CONFIG_INVALID);
  return caught as AppError;
}

/** The distinct keys named on the `  KEY: problem` lines of the error message (a key may have several problems). */
export function keysNamedIn(message: string): string[] {
  return [...new Set([...message.matchAll(/^ {2}([A-Z0-9_]+): /gm)].map((m) => m[1]))];
}

/** The distinct keys of the error's details. */
export function detailPaths(err: AppError): string[] {
  return [...new Set(err.details.map((d) => d.path))];
}
