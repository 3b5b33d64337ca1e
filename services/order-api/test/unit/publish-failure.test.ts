import { AppError, ErrorCodes, isAppError } from '@order-mail/shared/contract';
import { explainPublishFailure } from '../../src/adapters/broker/order-event-publisher';

const NOT_PUBLISHED = 'was not published and will not be processed';
const NOT_STORED = 'was not stored and will not be processed';
const MAY_STILL_BE_PROCESSED = 'will be processed and its email sent';
const RETRY_IS_SAFE = 'Retrying with the same orderId is safe';

describe('explainPublishFailure: what the 503 says about the order', () => {
  // Each cause as its raiser raises it (OrderEventPublisher, ConfirmedPublisher).
  it.each([
    ['shutting down', new AppError(ErrorCodes.SHUTTING_DOWN, 'The service is shutting down'), NOT_PUBLISHED],
    ['broker unavailable', new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker'), NOT_PUBLISHED],
    [
      'channel closed when publishing',
      new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'The broker channel is closed'),
      NOT_PUBLISHED,
    ],
    ['unroutable', new AppError(ErrorCodes.PUBLISH_UNROUTABLE, 'No queue is bound to exchange "orders"'), NOT_STORED],
    [
      'nacked',
      new AppError(ErrorCodes.PUBLISH_NACKED, 'The broker did not accept the message'),
      'is not certain to be processed',
    ],
    [
      'confirm timeout',
      new AppError(ErrorCodes.PUBLISH_TIMEOUT, 'No publisher confirm within 2500 ms'),
      `within 2500 ms. Order "A-1" was not confirmed, but RabbitMQ may still store it, and then it ${MAY_STILL_BE_PROCESSED}`,
    ],
    [
      'channel closed before the confirm',
      new AppError(ErrorCodes.PUBLISH_UNCONFIRMED, 'The broker channel closed before the confirm arrived'),
      `was not confirmed, but RabbitMQ may have stored it, and then it ${MAY_STILL_BE_PROCESSED}`,
    ],
  ])('when the cause is %s, then the message says so, keeps the code and says a retry is safe', (_cause, raw, says) => {
    const explained = explainPublishFailure(raw, 'A-1', 2500);

    expect(isAppError(explained, raw.code)).toBe(true);
    expect((explained as AppError).message).toContain('Order "A-1"');
    expect((explained as AppError).message).toContain(says);
    expect((explained as AppError).message).toContain(RETRY_IS_SAFE);
    expect((explained as AppError).cause).toBe(raw);
  });

  it.each([
    [ErrorCodes.PUBLISH_TIMEOUT, 'No publisher confirm within 2500 ms'],
    [ErrorCodes.PUBLISH_UNCONFIRMED, 'The broker channel closed before the confirm arrived'],
  ])('when the outcome is unknown (%s), then the message never claims the order was not processed', (code, text) => {
    const { message } = explainPublishFailure(new AppError(code, text), 'A-1', 2500) as AppError;

    expect(message).not.toMatch(/nothing was done|not published|not stored|will not be processed|not accepted/);
  });

  it('when the error is not one of ours, then it is passed on as it is (a 500)', () => {
    const bug = new TypeError('x is undefined');

    expect(explainPublishFailure(bug, 'A-1', 2500)).toBe(bug);
  });
});
