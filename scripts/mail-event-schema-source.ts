import { z } from 'zod';
import { mailEventSchema } from '../shared/src/mail-event';

/**
 * The JSON Schema (draft 2020-12, zod's `toJSONSchema`) of a delivery event, as
 * docs/mail-event.schema.json holds it: pretty-printed, with `$id` and `title`, ending in a newline.
 */
export function mailEventJsonSchema(): string {
  const schema = {
    $id: 'urn:order-mail:mail-event:1',
    title: 'order-mail delivery event (mail.events)',
    ...z.toJSONSchema(mailEventSchema),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
