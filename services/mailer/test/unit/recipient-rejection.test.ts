import { isRecipientRejection, type RefusalFacts } from '../../src/domain/recipient-rejection';

describe('isRecipientRejection (which refusals put the address on the suppression list)', () => {
  // [case, facts, suppress?]: the specification of the rule (RFC 5321 §4.2, RFC 3463 §3.2).
  it.each<[string, RefusalFacts, boolean]>([
    ['550 at RCPT TO, no enhanced code', { command: 'RCPT TO', responseCode: 550, response: '550 No such user' }, true],
    [
      '551 at RCPT TO (user not local)',
      { command: 'RCPT TO', responseCode: 551, response: '551 User not local' },
      true,
    ],
    [
      '553 at RCPT TO (mailbox name not allowed)',
      { command: 'RCPT TO', responseCode: 553, response: '553 Bad name' },
      true,
    ],
    [
      '552 at RCPT TO without an enhanced code',
      { command: 'RCPT TO', responseCode: 552, response: '552 Too much mail' },
      false,
    ],
    [
      '554 at RCPT TO without an enhanced code',
      { command: 'RCPT TO', responseCode: 554, response: '554 Rejected' },
      false,
    ],
    [
      '550 5.1.1 at RCPT TO (user unknown)',
      {
        command: 'RCPT TO',
        responseCode: 550,
        response: '550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown',
      },
      true,
    ],
    [
      "Gmail's multi-line 550-5.1.1",
      {
        command: 'RCPT TO',
        responseCode: 550,
        response:
          '550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser',
      },
      true,
    ],
    [
      '5.1.2 (bad destination system) after DATA',
      { command: 'DATA', responseCode: 554, response: '554 5.1.2 Host unknown' },
      true,
    ],
    [
      '5.1.10 (null MX) at RCPT TO',
      { command: 'RCPT TO', responseCode: 556, response: '556 5.1.10 Recipient address has null MX' },
      true,
    ],
    [
      '5.1.6 (mailbox moved) at RCPT TO',
      { command: 'RCPT TO', responseCode: 551, response: '551 5.1.6 Mailbox has moved' },
      true,
    ],
    [
      '550 5.7.1 relaying denied at RCPT TO (about us, not the address)',
      { command: 'RCPT TO', responseCode: 550, response: '550 5.7.1 Relaying denied' },
      false,
    ],
    [
      '550 5.7.1 block list at RCPT TO',
      {
        command: 'RCPT TO',
        responseCode: 550,
        response: '550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org',
      },
      false,
    ],
    ['552 5.2.2 mailbox full', { command: 'RCPT TO', responseCode: 552, response: '552 5.2.2 Mailbox full' }, false],
    [
      '553 5.1.7 bad sender address at MAIL FROM',
      { command: 'MAIL FROM', responseCode: 553, response: '553 5.1.7 Sender address rejected' },
      false,
    ],
    [
      '550 5.1.8 bad sender system at RCPT TO',
      { command: 'RCPT TO', responseCode: 550, response: '550 5.1.8 Sender domain does not exist' },
      false,
    ],
    [
      '550 at MAIL FROM without an enhanced code',
      { command: 'MAIL FROM', responseCode: 550, response: '550 Sender rejected' },
      false,
    ],
    [
      '550 after DATA without an enhanced code (content)',
      { command: 'DATA', responseCode: 550, response: '550 Message rejected as spam' },
      false,
    ],
    ['450 at RCPT TO (try later)', { command: 'RCPT TO', responseCode: 450, response: '450 Mailbox busy' }, false],
    [
      '451 4.1.1 at RCPT TO (temporary)',
      { command: 'RCPT TO', responseCode: 451, response: '451 4.1.1 Try again' },
      false,
    ],
    [
      'a 4xx reply carrying a 5.1.1 code',
      { command: 'RCPT TO', responseCode: 450, response: '450 5.1.1 Inconsistent' },
      false,
    ],
    ['no reply at all (connection lost)', { command: 'RCPT TO' }, false],
    ['a 550 with no command known', { responseCode: 550, response: '550 No such user' }, false],
  ])('when the server answers %s, then suppress is %s', (_name, facts, expected) => {
    // Act
    const suppress = isRecipientRejection(facts);

    // Assert
    expect(suppress).toBe(expected);
  });
});
