import type { z } from 'zod';
import { AppError, ErrorCodes, type FieldIssue } from './errors';

/** Flattens zod issues into `{ path, message }` pairs that API clients and operators can read. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/** Parses `input`, or throws VALIDATION_FAILED (an HTTP 400) with one detail per problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, message: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new AppError(ErrorCodes.VALIDATION_FAILED, message, { details: toFieldIssues(result.error) });
  }
  return result.data;
}
