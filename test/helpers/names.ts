import { randomBytes } from 'node:crypto';

/** A name no other test (or earlier run) uses, so tests never see each other's messages. */
export function uniqueName(prefix: string): string {
  return `test.${prefix}.${randomBytes(4).toString('hex')}`;
}
