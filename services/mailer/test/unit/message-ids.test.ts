import { idsFromBody } from '../../src/domain/message-ids';

describe('idsFromBody', () => {
  it.each([
    [
      'a valid event',
      { eventId: 'e-1', correlationId: 'c-1', order: { orderId: 'A-1', items: [] } },
      { orderId: 'A-1', eventId: 'e-1', correlationId: 'c-1' },
    ],
    [
      'an event failing the schema but carrying ids',
      { eventId: 'e-2', order: { orderId: 'A-2' }, currency: 'euro' },
      { orderId: 'A-2', eventId: 'e-2' },
    ],
    ['ids of the wrong type', { eventId: 42, order: { orderId: ['A-3'] } }, {}],
    ['empty ids', { eventId: '', order: { orderId: '' } }, {}],
    ['no order object', { eventId: 'e-4', order: 'A-4' }, { eventId: 'e-4' }],
    ['a JSON array', [1, 2], {}],
    ['JSON null', null, {}],
  ])('when the body is %s, then the ids are %j', (_name, body, expected) => {
    expect(idsFromBody(Buffer.from(JSON.stringify(body)))).toEqual(expected);
  });

  it.each([
    ['not JSON', Buffer.from('{"eventId": "e-5", oops')],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0x00])],
    ['empty', Buffer.alloc(0)],
  ])('when the body is %s, then there are no ids and nothing throws', (_name, content) => {
    expect(idsFromBody(content)).toEqual({});
  });

  it('when an id is longer than 200 characters, then it is cut to 200 and marked', () => {
    const ids = idsFromBody(Buffer.from(JSON.stringify({ eventId: 'x'.repeat(5000) })));

    expect(ids.eventId).toBe(`${'x'.repeat(200)}…`);
  });
});
