import { maskEmailsIn } from '../src/diagnostics';

describe('maskEmailsIn (addresses in text from outside, for logs)', () => {
  it.each([
    [
      'Postfix quoting the recipient',
      '550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
      '550 5.1.1 <a***@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    ],
    [
      'a bare address',
      "Can't send mail - all recipients were rejected: 550 ada.lovelace+shop@mail.example.co.uk",
      "Can't send mail - all recipients were rejected: 550 a***@mail.example.co.uk",
    ],
    [
      'two addresses',
      'from <orders@shop.example> to <bob@example.org>',
      'from <o***@shop.example> to <b***@example.org>',
    ],
    ['no address', '451 4.7.1 Greylisted, try again later', '451 4.7.1 Greylisted, try again later'],
    ['an at sign that is no address', 'queued @ 12:00 as 4F2A', 'queued @ 12:00 as 4F2A'],
  ])('when the text has %s, then every address is masked and the rest kept', (_name, text, expected) => {
    // Act
    const masked = maskEmailsIn(text);

    // Assert
    expect(masked).toBe(expected);
  });

  it('when there is no text, then undefined stays undefined', () => {
    // Act, Assert
    expect(maskEmailsIn(undefined)).toBeUndefined();
  });
});
