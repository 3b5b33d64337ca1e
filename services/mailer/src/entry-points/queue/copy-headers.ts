import {
  MailerHeaders,
  readCountHeader,
  readSendFailures,
  withoutBrokerHistory,
} from '../../adapters/broker/mailer-topology';
import type { CopyCounts, DeliveryOutcome, FailureInfo, MessageHistory } from '../../domain/delivery-outcome';

/** SMTP replies and error messages are cut to this many characters in headers. */
const MAX_HEADER_TEXT = 1000;

type Headers = Record<string, unknown>;

/** Where a message stands, from the headers its earlier copies carried. */
export function historyFromHeaders(headers: Headers | undefined): MessageHistory {
  return {
    sendFailures: readSendFailures(headers),
    internalErrors: readCountHeader(headers, MailerHeaders.internalErrors),
    ledgerAttempts: readCountHeader(headers, MailerHeaders.attempts),
    replayed: headers?.[MailerHeaders.replayedAt] !== undefined,
    suppressionOverride: headers?.[MailerHeaders.suppressionOverride] === true,
  };
}

/**
 * The headers of a copy of a message (to a retry or hold queue, or the dead-letter exchange):
 * what the original carried, without the broker's history (RabbitMQ's dead-letter cycle rule, see
 * `withoutBrokerHistory`), plus the outcome's failure, counts and reason. Pure: `now` stamps the
 * failure times (`x-first-failure-at` is kept from the first copy).
 */
export function copyHeaders(
  original: Headers | undefined,
  outcome: Exclude<DeliveryOutcome, { action: 'ack' }>,
  workerId: string,
  now: Date,
): Headers {
  switch (outcome.action) {
    case 'retry':
      return { ...failureHeaders(original, outcome.failure, workerId, now), ...countHeaders(outcome.counts) };
    case 'hold': {
      const base = outcome.failure
        ? failureHeaders(original, outcome.failure, workerId, now)
        : withoutBrokerHistory(original);
      return { ...base, [MailerHeaders.holdReason]: outcome.reason };
    }
    case 'dead-letter':
      return {
        ...failureHeaders(original, outcome.failure, workerId, now),
        ...countHeaders(outcome.counts),
        [MailerHeaders.deadLetterReason]: outcome.reason,
      };
  }
}

/** The headers that describe a failure, merged into what the message already carried. */
function failureHeaders(original: Headers | undefined, failure: FailureInfo, workerId: string, now: Date): Headers {
  const previous = withoutBrokerHistory(original);
  // The SMTP reply describes the latest failure only: one without a reply must not inherit the last one's.
  delete previous[MailerHeaders.smtpCode];
  delete previous[MailerHeaders.smtpResponse];
  const at = now.toISOString();
  return {
    ...previous,
    [MailerHeaders.lastError]: failure.message.slice(0, MAX_HEADER_TEXT),
    [MailerHeaders.lastErrorClass]: failure.failureClass,
    [MailerHeaders.firstFailureAt]: previous[MailerHeaders.firstFailureAt] ?? at,
    [MailerHeaders.lastFailureAt]: at,
    [MailerHeaders.workerId]: workerId,
    ...(failure.responseCode !== undefined && { [MailerHeaders.smtpCode]: failure.responseCode }),
    ...(failure.response !== undefined && { [MailerHeaders.smtpResponse]: failure.response.slice(0, MAX_HEADER_TEXT) }),
  };
}

function countHeaders(counts: CopyCounts): Headers {
  return {
    ...(counts.sendFailures !== undefined && { [MailerHeaders.sendFailures]: counts.sendFailures }),
    ...(counts.internalErrors !== undefined && { [MailerHeaders.internalErrors]: counts.internalErrors }),
    ...(counts.ledgerAttempts !== undefined && { [MailerHeaders.attempts]: counts.ledgerAttempts }),
  };
}
