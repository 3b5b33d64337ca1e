import type { z } from 'zod';
import type { FieldIssue } from './errors';

/** Flattens zod issues into `{ path, message }` pairs that API clients and operators can read. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}
