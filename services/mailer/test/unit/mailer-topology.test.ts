import {
  currentGroupSizeIn,
  formatDelay,
  holdQueueName,
  mailerQueueNames,
  retryQueueName,
  type MailerTopology,
} from '../../src/adapters/broker/mailer-topology';

function topology(overrides: Partial<MailerTopology> = {}): MailerTopology {
  return {
    ordersExchange: 'orders',
    routingKey: 'order.confirmed',
    workQueue: 'mailer.order.confirmed',
    deadLetterExchange: 'mailer.dead-letter',
    deadLetterQueue: 'mailer.order.confirmed.dead',
    mailEventsExchange: 'mail.events',
    deliveryLimit: 20,
    retryDelaysMs: [30_000, 120_000, 600_000, 3_600_000, 21_600_000],
    holdDelayMs: 600_000,
    ...overrides,
  };
}

describe('formatDelay', () => {
  it.each([
    [30_000, '30s'],
    [120_000, '2m'],
    [600_000, '10m'],
    [3_600_000, '1h'],
    [21_600_000, '6h'],
    [90_000, '90s'],
    [5_400_000, '90m'],
    [1000, '1s'],
    [250, '250ms'],
    [1500, '1500ms'],
  ])('when the delay is %i ms, then it reads %s', (ms, expected) => {
    // Act
    const text = formatDelay(ms);

    // Assert
    expect(text).toBe(expected);
  });

  it('when delays differ, then their names differ', () => {
    // Arrange
    const delays = [250, 1000, 1500, 30_000, 60_000, 90_000, 120_000, 3_600_000, 5_400_000, 86_400_000];

    // Act
    const names = delays.map(formatDelay);

    // Assert
    expect(new Set(names).size).toBe(delays.length);
  });
});

describe('retryQueueName and holdQueueName', () => {
  it('when a retry queue is named, then it is the work queue, "retry" and the delay', () => {
    // Act
    const name = retryQueueName('mailer.order.confirmed', 30_000);

    // Assert
    expect(name).toBe('mailer.order.confirmed.retry.30s');
  });

  it('when a hold queue is named, then it is the work queue, "hold" and the delay', () => {
    // Act
    const name = holdQueueName('mailer.order.confirmed', 600_000);

    // Assert
    expect(name).toBe('mailer.order.confirmed.hold.10m');
  });

  it('when a retry and a hold queue share a delay, then they still have different names', () => {
    // Act
    const retry = retryQueueName('q', 600_000);
    const hold = holdQueueName('q', 600_000);

    // Assert
    expect(retry).toBe('q.retry.10m');
    expect(hold).toBe('q.hold.10m');
  });
});

describe('mailerQueueNames', () => {
  it('when the default topology is given, then every queue is listed once: work, dead letters, retries, hold', () => {
    // Act
    const names = mailerQueueNames(topology());

    // Assert
    expect(names).toEqual([
      'mailer.order.confirmed',
      'mailer.order.confirmed.dead',
      'mailer.order.confirmed.retry.30s',
      'mailer.order.confirmed.retry.2m',
      'mailer.order.confirmed.retry.10m',
      'mailer.order.confirmed.retry.1h',
      'mailer.order.confirmed.retry.6h',
      'mailer.order.confirmed.hold.10m',
    ]);
  });

  it('when the schedule repeats a delay, then the retries with that delay share one queue', () => {
    // Arrange
    const t = topology({ workQueue: 'w', deadLetterQueue: 'w.dead', retryDelaysMs: [30_000, 30_000, 60_000, 30_000] });

    // Act
    const names = mailerQueueNames(t);

    // Assert
    expect(names).toEqual(['w', 'w.dead', 'w.retry.30s', 'w.retry.1m', 'w.hold.10m']);
  });

  it('when delays are distinct, then each gets its own queue', () => {
    // Arrange
    const t = topology({ workQueue: 'w', deadLetterQueue: 'w.dead', retryDelaysMs: [250, 1500, 90_000] });

    // Act
    const names = mailerQueueNames(t);

    // Assert
    expect(names).toEqual(['w', 'w.dead', 'w.retry.250ms', 'w.retry.1500ms', 'w.retry.90s', 'w.hold.10m']);
    expect(new Set(names).size).toBe(names.length);
  });

  it('when the hold delay equals a retry delay, then the hold queue is still separate', () => {
    // Arrange
    const t = topology({ workQueue: 'w', deadLetterQueue: 'w.dead', retryDelaysMs: [600_000], holdDelayMs: 600_000 });

    // Act
    const names = mailerQueueNames(t);

    // Assert
    expect(names).toEqual(['w', 'w.dead', 'w.retry.10m', 'w.hold.10m']);
  });
});

describe('currentGroupSizeIn (what RabbitMQ says a queue has when refusing another x-quorum-initial-group-size)', () => {
  const refusal = (tail: string) =>
    new Error(
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-quorum-initial-group-size' for queue 'mailer.order.confirmed' in vhost '/': ${tail}"`,
    );

  it.each<[string, unknown, number | null | undefined]>([
    [
      'a queue created without one (3.10 wording)',
      refusal("received the value '3' of type 'byte' but current is none"),
      null,
    ],
    [
      'a queue created with 1',
      refusal("received the value '3' of type 'byte' but current is the value '1' of type 'byte'"),
      1,
    ],
    [
      'a queue created with 5, declared without',
      refusal("received none but current is the value '5' of type 'byte'"),
      5,
    ],
    [
      'a refusal for another argument',
      new Error(
        "406 (PRECONDITION-FAILED) with message \"PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in vhost '/': received the value '20' of type 'long' but current is the value '5' of type 'long'\"",
      ),
      undefined,
    ],
    ['not an error', 'inequivalent', undefined],
  ])('when the refusal is for %s, then the size read is %p', (_what, err, size) => {
    // Act
    const got = currentGroupSizeIn(err);

    // Assert
    expect(got).toBe(size);
  });
});
