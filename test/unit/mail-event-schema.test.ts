import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mailEventJsonSchema } from '../../scripts/mail-event-schema-source';

describe('docs/mail-event.schema.json', () => {
  it('when compared with mailEventSchema (shared/src/mail-event.ts), then it is the JSON Schema generated from it (run `npm run schema:mail-events` after changing the schema)', () => {
    // Arrange
    const file = readFileSync(path.resolve(__dirname, '../../docs/mail-event.schema.json'), 'utf8');

    // Act
    const generated = mailEventJsonSchema();

    // Assert
    expect(file).toBe(generated);
  });

  it('when read, then it requires every field the README documents and allows no others', () => {
    // Act
    const schema = JSON.parse(mailEventJsonSchema()) as { required: string[]; additionalProperties: boolean };

    // Assert
    expect([...schema.required].sort()).toEqual(
      [
        'attempt',
        'eventId',
        'messageId',
        'occurredAt',
        'orderEventId',
        'orderId',
        'recipient',
        'schemaVersion',
        'status',
        'type',
      ].sort(),
    );
    expect(schema.additionalProperties).toBe(false);
  });
});
