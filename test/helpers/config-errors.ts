import { AppError, ErrorCodes } from '@order-mail/shared/contract';

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

/** Every form a duration key accepts, with the milliseconds it means (README, "Durations"). */
const DURATION_FORMS: readonly (readonly [string, number])[] = [
  ['5000', 5000],
  ['250ms', 250],
  ['30s', 30_000],
  ['2m', 120_000],
  ['1h', 3_600_000],
];

/** Texts no duration key accepts: an unknown unit, a fraction, zero, a space before the unit. */
const NOT_DURATIONS = ['30x', '1.5s', '0s', '2 m'];

/**
 * The rows a service's duration keys are tested with: each key (with the other settings its rules
 * compare it with) in every accepted form, `[key, text, ms, rest]`, and with every text that is
 * not a duration, `[key, text, rest]`.
 */
export function durationCases(keys: readonly (readonly [string, NodeJS.ProcessEnv])[]) {
  return {
    good: keys.flatMap(([key, rest]) => DURATION_FORMS.map(([text, ms]) => [key, text, ms, rest] as const)),
    bad: keys.flatMap(([key, rest]) => NOT_DURATIONS.map((text) => [key, text, rest] as const)),
  };
}
