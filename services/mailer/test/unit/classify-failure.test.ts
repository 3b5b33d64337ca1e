import { classifyFailure, type FailureClass, type SendErrorFacts } from '../../src/domain/classify-failure';

/** Facts of a failure with no reply and an intact connection; each case overrides what it is about. */
function facts(overrides: Partial<SendErrorFacts>): SendErrorFacts {
  return { permanentReply: false, connectionLost: false, messageTransmitted: false, ...overrides };
}

interface Case {
  name: string;
  facts: SendErrorFacts;
  expected: FailureClass;
}

const cases: Case[] = [
  // 4xx replies: the server asks us to come back later.
  {
    name: 'a 421 greeting (service not available, closing the connection)',
    facts: facts({ code: 'EPROTOCOL', responseCode: 421, connectionLost: true }),
    expected: 'transient',
  },
  {
    name: 'a 450 reply (mailbox unavailable)',
    facts: facts({ code: 'EENVELOPE', responseCode: 450 }),
    expected: 'transient',
  },
  {
    name: 'a 451 reply (local error in processing)',
    facts: facts({ code: 'EMESSAGE', responseCode: 451 }),
    expected: 'transient',
  },
  {
    name: 'a 452 reply (insufficient storage)',
    facts: facts({ code: 'EENVELOPE', responseCode: 452 }),
    expected: 'transient',
  },
  {
    name: 'a 503 reply (bad sequence of commands, not a permanent reply)',
    facts: facts({ code: 'EENVELOPE', responseCode: 503, permanentReply: false }),
    expected: 'transient',
  },

  // 5xx replies on MAIL, RCPT or DATA: the server refused this message for good.
  {
    name: 'a 550 reply to RCPT (mailbox unavailable)',
    facts: facts({ code: 'EENVELOPE', responseCode: 550, permanentReply: true }),
    expected: 'permanent',
  },
  {
    name: 'a 551 reply to RCPT (user not local)',
    facts: facts({ code: 'EENVELOPE', responseCode: 551, permanentReply: true }),
    expected: 'permanent',
  },
  {
    name: 'a 552 reply to DATA (exceeded storage allocation)',
    facts: facts({ code: 'EMESSAGE', responseCode: 552, permanentReply: true }),
    expected: 'permanent',
  },
  {
    name: 'a 553 reply to MAIL (mailbox name not allowed)',
    facts: facts({ code: 'EENVELOPE', responseCode: 553, permanentReply: true }),
    expected: 'permanent',
  },
  {
    name: 'a 554 reply to DATA (transaction failed)',
    facts: facts({ code: 'EMESSAGE', responseCode: 554, permanentReply: true }),
    expected: 'permanent',
  },

  // Connection-level failures before the whole message went out: nothing was delivered.
  {
    name: 'connection refused',
    facts: facts({ code: 'ESOCKET', connectionLost: true, messageTransmitted: false }),
    expected: 'transient',
  },
  {
    name: 'connection reset before DATA',
    facts: facts({ code: 'ECONNECTION', connectionLost: true, messageTransmitted: false }),
    expected: 'transient',
  },
  {
    name: 'a timeout before DATA',
    facts: facts({ code: 'ETIMEDOUT', connectionLost: true, messageTransmitted: false }),
    expected: 'transient',
  },
  {
    name: 'a timeout before DATA that the transport did not mark as a lost connection',
    facts: facts({ code: 'ETIMEDOUT', connectionLost: false, messageTransmitted: false }),
    expected: 'transient',
  },
  {
    name: 'a DNS error',
    facts: facts({ code: 'EDNS', connectionLost: true }),
    expected: 'transient',
  },

  // After the final dot, without a reply: the server may have accepted the message.
  {
    name: 'the connection lost after the final dot',
    facts: facts({ code: 'ECONNECTION', connectionLost: true, messageTransmitted: true }),
    expected: 'unknown_outcome',
  },
  {
    name: 'a socket error after the final dot',
    facts: facts({ code: 'ESOCKET', connectionLost: true, messageTransmitted: true }),
    expected: 'unknown_outcome',
  },
  {
    name: 'a timeout after the final dot',
    facts: facts({ code: 'ETIMEDOUT', connectionLost: false, messageTransmitted: true }),
    expected: 'unknown_outcome',
  },
  {
    name: 'a send aborted at its deadline after the final dot',
    facts: facts({ code: 'EABORT', connectionLost: false, messageTransmitted: true }),
    expected: 'unknown_outcome',
  },
  {
    name: 'a send aborted at its deadline while still queued in the pool',
    facts: facts({ code: 'EABORT', connectionLost: false, messageTransmitted: false }),
    expected: 'transient',
  },

  // After the final dot, with a reply: the server decided.
  {
    name: 'a 451 reply after the message was transmitted',
    facts: facts({ code: 'EMESSAGE', responseCode: 451, messageTransmitted: true }),
    expected: 'transient',
  },
  {
    name: 'a 550 reply after the message was transmitted',
    facts: facts({ code: 'EMESSAGE', responseCode: 550, permanentReply: true, messageTransmitted: true }),
    expected: 'permanent',
  },
  {
    name: 'a 421 reply that closed the connection after the message was transmitted',
    facts: facts({ code: 'EMESSAGE', responseCode: 421, connectionLost: true, messageTransmitted: true }),
    expected: 'transient',
  },

  // Our credentials were refused: not the message's fault.
  {
    name: 'a 535 reply (authentication credentials invalid)',
    facts: facts({ code: 'EAUTH', responseCode: 535, permanentReply: true }),
    expected: 'auth',
  },
  {
    name: 'a 535 reply without a transport code',
    facts: facts({ responseCode: 535, permanentReply: true }),
    expected: 'auth',
  },
  {
    name: 'an EAUTH error without a reply',
    facts: facts({ code: 'EAUTH' }),
    expected: 'auth',
  },
  {
    name: 'a 530 reply (authentication required)',
    facts: facts({ code: 'EENVELOPE', responseCode: 530, permanentReply: true }),
    expected: 'auth',
  },
  {
    name: 'a 534 reply (authentication mechanism too weak)',
    facts: facts({ code: 'EAUTH', responseCode: 534, permanentReply: true }),
    expected: 'auth',
  },
  {
    name: 'an ENOAUTH error (credentials missing for a server that requires them)',
    facts: facts({ code: 'ENOAUTH' }),
    expected: 'auth',
  },
  {
    name: 'an auth reply after the message was transmitted',
    facts: facts({ code: 'EAUTH', responseCode: 535, permanentReply: true, messageTransmitted: true }),
    expected: 'auth',
  },
];

describe('classifyFailure', () => {
  it.each(cases)('when the send failed with $name, then the failure is $expected', ({ facts: input, expected }) => {
    // Act
    const result = classifyFailure(input);

    // Assert
    expect(result).toBe(expected);
  });

  it('when a reply code arrives, then the transport’s permanent flag decides between permanent and transient', () => {
    // Arrange: the same code, told apart only by the transport's verdict.
    const permanent = facts({ responseCode: 550, permanentReply: true });
    const notPermanent = facts({ responseCode: 550, permanentReply: false });

    // Act / Assert
    expect(classifyFailure(permanent)).toBe('permanent');
    expect(classifyFailure(notPermanent)).toBe('transient');
  });
});
