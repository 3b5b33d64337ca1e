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
  ...rateLimitCases(),
];

/** A reply's facts: its code, its whole text, permanent for 5xx but 503 (as nodemailer says). */
function reply(response: string, overrides: Partial<SendErrorFacts> = {}): SendErrorFacts {
  const responseCode = Number(response.slice(0, 3));
  return facts({ code: 'EENVELOPE', responseCode, response, permanentReply: responseCode >= 500, ...overrides });
}

/**
 * Issue #15: a 421, 451 or 454 that says "rate" (as a word, any case) or carries a 4.7.x enhanced
 * status code (RFC 3463 §3.8, security or policy) is the relay limiting our rate, except
 * greylisting; any other code, or such a code without either sign, stays what it was.
 */
function rateLimitCases(): Case[] {
  const limited: [string, SendErrorFacts][] = [
    [
      'a 421 4.7.0 "rate limit exceeded" to the final dot',
      reply('421 4.7.0 rate limit exceeded', { code: 'EMESSAGE', stage: 'after-final-dot' }),
    ],
    [
      'Amazon SES’s 454 "Throttling failure: Maximum sending rate exceeded."',
      reply('454 Throttling failure: Maximum sending rate exceeded.'),
    ],
    ['a 451 "Rate-limited, try again later" without an enhanced code', reply('451 Rate-limited, try again later')],
    ['a 451 "RATE LIMIT" in upper case', reply('451 RATE LIMIT: slow down')],
    ['a 421 "ratelimit reached"', reply('421 ratelimit reached, closing connection')],
    [
      'a 421 4.7.0 "Too many concurrent SMTP connections" (4.7.x, no "rate")',
      reply('421 4.7.0 Too many concurrent SMTP connections'),
    ],
    [
      'Outlook’s 451 4.7.500 "Server busy. Please try again later"',
      reply('451 4.7.500 Server busy. Please try again later'),
    ],
    [
      'a 451 4.7.1 "Please try again later" (4.7.x, no word about greylisting)',
      reply('451 4.7.1 Please try again later'),
    ],
    ['a multi-line 421-4.7.0 reply', reply('421-4.7.0 Our system has detected an unusual rate\n421 4.7.0 of mail')],
    [
      'a 454 4.7.0 to STARTTLS (TLS not available for now)',
      reply('454 4.7.0 TLS not available due to temporary reason', { code: 'ETLS' }),
    ],
  ];
  const notLimited: [string, SendErrorFacts, FailureClass][] = [
    [
      'a 451 4.7.1 "Greylisted, please come back later"',
      reply('451 4.7.1 Greylisted, please come back later'),
      'transient',
    ],
    [
      'a 421 "greylisting in action" (grey-list, any spelling)',
      reply('421 Grey-listing in action, try later'),
      'transient',
    ],
    ['a 451 4.3.0 "Temporary local problem" (neither sign)', reply('451 4.3.0 Temporary local problem'), 'transient'],
    ['a 421 4.3.2 "System shutting down"', reply('421 4.3.2 System shutting down'), 'transient'],
    [
      'a 451 whose words only contain "rate" ("could not generate a separate copy")',
      reply('451 could not generate a separate copy'),
      'transient',
    ],
    [
      'a 450 4.2.1 "receiving mail at a rate that prevents additional messages" (450: the recipient’s inbox, not our rate)',
      reply(
        '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages',
      ),
      'transient',
    ],
    ['a 452 4.7.0 (452 is not one of the three codes)', reply('452 4.7.0 Too many recipients at once'), 'transient'],
    [
      'a 550 5.7.1 "rate limit" (a permanent refusal)',
      reply('550 5.7.1 rate limit exceeded, message refused'),
      'permanent',
    ],
    [
      'a 535 that mentions a rate (credentials first)',
      reply('535 5.7.8 Authentication failed; rate of failures logged', { code: 'EAUTH' }),
      'auth',
    ],
    [
      'a 454 4.7.0 "Temporary authentication failure" to AUTH (credentials first)',
      reply('454 4.7.0 Temporary authentication failure', { code: 'EAUTH' }),
      'auth',
    ],
    ['a 421 without any text', facts({ code: 'EPROTOCOL', responseCode: 421 }), 'transient'],
  ];
  return [
    ...limited.map(([name, f]) => ({ name, facts: f, expected: 'rate_limited' as const })),
    ...notLimited.map(([name, f, expected]) => ({ name, facts: f, expected })),
  ];
}

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
