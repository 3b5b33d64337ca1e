import {
  classifyFailure,
  type FailureClass,
  type SendErrorFacts,
  type SendStage,
} from '../../src/domain/classify-failure';

/** Facts of a failure with no reply, before DATA; each case overrides what it is about. */
function facts(overrides: Partial<SendErrorFacts>): SendErrorFacts {
  return { permanentReply: false, stage: 'before-data', ...overrides };
}

interface Case {
  name: string;
  facts: SendErrorFacts;
  expected: FailureClass;
}

const STAGES: { stage: SendStage; name: string }[] = [
  { stage: 'before-data', name: 'before the 354 to DATA (connect, greeting, EHLO … RCPT TO, DATA)' },
  { stage: 'content', name: 'after the 354, before the final dot was written' },
  { stage: 'after-final-dot', name: 'after the final dot was written, before the reply' },
];

/** Ways a send ends without a reply from the server, as nodemailer reports them. */
const NO_REPLY_ERRORS: { code: string; name: string }[] = [
  { code: 'ECONNECTION', name: 'the connection closed' },
  { code: 'ESOCKET', name: 'a socket error (reset)' },
  { code: 'ETIMEDOUT', name: 'a socket timeout' },
  { code: 'EABORT', name: 'the send deadline (abort)' },
  { code: 'EPROTOCOL', name: 'an unreadable reply' },
];

// Without a reply, only the stage decides: the server can have accepted the message only once
// the final dot was written (RFC 5321 §4.1.1.4, §4.1.1.10).
const noReplyCases: Case[] = STAGES.flatMap(({ stage, name: stageName }) =>
  NO_REPLY_ERRORS.map(({ code, name }) => ({
    name: `${name} (${code}) ${stageName}`,
    facts: facts({ code, stage }),
    expected: stage === 'after-final-dot' ? 'unknown_outcome' : 'transient',
  })),
);

const cases: Case[] = [
  ...noReplyCases,
  {
    name: 'a DNS error (EDNS), before connecting',
    facts: facts({ code: 'EDNS' }),
    expected: 'transient',
  },
  {
    name: 'a reply that is neither success nor failure (a 354) to the final dot',
    facts: facts({ code: 'EMESSAGE', responseCode: 354, stage: 'after-final-dot' }),
    expected: 'unknown_outcome',
  },

  // 4xx replies, at any stage: the server asks us to come back later.
  {
    name: 'a 421 greeting (service not available, closing the connection)',
    facts: facts({ code: 'EPROTOCOL', responseCode: 421 }),
    expected: 'transient',
  },
  {
    name: 'a 450 reply to RCPT (mailbox unavailable)',
    facts: facts({ code: 'EENVELOPE', responseCode: 450 }),
    expected: 'transient',
  },
  {
    name: 'a 451 reply to the final dot (local error in processing)',
    facts: facts({ code: 'EMESSAGE', responseCode: 451, stage: 'after-final-dot' }),
    expected: 'transient',
  },
  {
    name: 'a 452 reply to RCPT (insufficient storage)',
    facts: facts({ code: 'EENVELOPE', responseCode: 452 }),
    expected: 'transient',
  },
  {
    name: 'a 421 reply to the final dot that closed the connection',
    facts: facts({ code: 'EMESSAGE', responseCode: 421, stage: 'after-final-dot' }),
    expected: 'transient',
  },
  {
    name: 'a 503 reply (bad sequence of commands, not a permanent reply)',
    facts: facts({ code: 'EENVELOPE', responseCode: 503, permanentReply: false }),
    expected: 'transient',
  },

  // 5xx replies on MAIL, RCPT, DATA or the final dot: the server refused this message for good.
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
    name: 'a 552 reply to the final dot (exceeded storage allocation)',
    facts: facts({ code: 'EMESSAGE', responseCode: 552, permanentReply: true, stage: 'after-final-dot' }),
    expected: 'permanent',
  },
  {
    name: 'a 553 reply to MAIL (mailbox name not allowed)',
    facts: facts({ code: 'EENVELOPE', responseCode: 553, permanentReply: true }),
    expected: 'permanent',
  },
  {
    name: 'a 554 reply to the final dot (transaction failed)',
    facts: facts({ code: 'EMESSAGE', responseCode: 554, permanentReply: true, stage: 'after-final-dot' }),
    expected: 'permanent',
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
    name: 'an auth reply after the final dot',
    facts: facts({ code: 'EAUTH', responseCode: 535, permanentReply: true, stage: 'after-final-dot' }),
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
