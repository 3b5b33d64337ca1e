// `npm run schema:mail-events`: writes docs/mail-event.schema.json from `mailEventSchema`
// (shared/src/mail-event.ts), the JSON Schema of the delivery events for consumers in other
// languages. test/unit/mail-event-schema.test.ts fails while the file differs from the source.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { mailEventJsonSchema } from './mail-event-schema-source';

const target = path.resolve(__dirname, '..', 'docs', 'mail-event.schema.json');
writeFileSync(target, mailEventJsonSchema());
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
