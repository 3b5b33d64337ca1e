import { createSendPause, type SendPause } from '../../src/domain/send-pause';

/** A pause on a hand-moved clock: `wait(ms)` moves the clock by `ms` and records it. */
function pausedClock(baseMs = 5000, maxMs = 60_000) {
  const clock = { now: 1_000_000, waits: [] as number[] };
  const pause: SendPause = createSendPause({
    baseMs,
    maxMs,
    now: () => clock.now,
    wait: async (ms) => {
      clock.waits.push(ms);
      clock.now += ms;
    },
  });
  return { clock, pause };
}

describe('send pause', () => {
  it('when nothing was rate-limited, then there is no pause and nothing waits', async () => {
    // Arrange
    const { clock, pause } = pausedClock();

    // Act
    await pause.whenOver();

    // Assert
    expect(pause.isOn()).toBe(false);
    expect(clock.waits).toEqual([]);
  });

  it('when a send is rate-limited, then a pause of the first length starts and sends wait for its end', async () => {
    // Arrange
    const { clock, pause } = pausedClock(5000);
    const mark = pause.mark();

    // Act
    const ms = pause.rateLimited(mark);
    clock.now += 1200;
    const onMidway = pause.isOn();
    await pause.whenOver();

    // Assert
    expect(ms).toBe(5000);
    expect(onMidway).toBe(true);
    expect(clock.waits).toEqual([3800]);
    expect(pause.isOn()).toBe(false);
  });

  it('when rate-limit replies keep coming after each pause, then each pause doubles, up to the longest', () => {
    // Arrange
    const { pause } = pausedClock(5000, 30_000);

    // Act: each send starts after the previous pause and is turned away again
    const lengths = [1, 2, 3, 4, 5].map(() => pause.rateLimited(pause.mark()));

    // Assert
    expect(lengths).toEqual([5000, 10_000, 20_000, 30_000, 30_000]);
  });

  it('when several sends in flight are turned away by the same burst, then they start one pause, not one each, and do not lengthen it', () => {
    // Arrange: three sends start before any reply
    const { pause } = pausedClock(5000);
    const marks = [pause.mark(), pause.mark(), pause.mark()];

    // Act
    const lengths = marks.map((mark) => pause.rateLimited(mark));
    const next = pause.rateLimited(pause.mark());

    // Assert: the second and third are covered; a send after the pause is the second in a row
    expect(lengths).toEqual([5000, null, null]);
    expect(next).toBe(10_000);
  });

  it('when a send that started after the pause is accepted, then the next pause is the first length again', () => {
    // Arrange
    const { pause } = pausedClock(5000);
    pause.rateLimited(pause.mark());
    pause.rateLimited(pause.mark());

    // Act
    pause.accepted(pause.mark());
    const next = pause.rateLimited(pause.mark());

    // Assert
    expect(next).toBe(5000);
  });

  it('when a send that started before the latest pause is accepted, then the row goes on (it was already on its way)', () => {
    // Arrange
    const { pause } = pausedClock(5000);
    const early = pause.mark();
    pause.rateLimited(pause.mark());

    // Act
    pause.accepted(early);
    const next = pause.rateLimited(pause.mark());

    // Assert
    expect(next).toBe(10_000);
  });

  it('when the pause is lengthened while sends wait, then they wait for the new end', async () => {
    // Arrange: the first wait ends in the middle of a longer, second pause
    const clock = { now: 0 };
    const waits: number[] = [];
    const pause: SendPause = createSendPause({
      baseMs: 100,
      maxMs: 1000,
      now: () => clock.now,
      wait: async (ms) => {
        waits.push(ms);
        clock.now += ms;
        if (waits.length === 1) pause.rateLimited(pause.mark());
      },
    });
    pause.rateLimited(pause.mark());

    // Act
    await pause.whenOver();

    // Assert: 100 ms, then the second pause (200 ms) from that moment
    expect(waits).toEqual([100, 200]);
    expect(clock.now).toBe(300);
  });

  it('when the longest pause is shorter than the first, then the first length is used', () => {
    // Arrange
    const { pause } = pausedClock(5000, 1000);

    // Act / Assert
    expect(pause.rateLimited(pause.mark())).toBe(5000);
  });
});
