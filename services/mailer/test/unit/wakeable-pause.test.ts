import { createBackgroundJob, createWakeablePause } from '../../src/entry-points/jobs/wakeable-pause';

// The pause between two rounds of a background job, and the job's loop, on jest's fake clock.

/** Lets resolved promises run their continuations while the clock stands still. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('createWakeablePause', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A wait, and whether it has ended. */
  function waiting(pause: ReturnType<typeof createWakeablePause>, ms: number) {
    const state = { over: false };
    void pause.wait(ms).then(() => (state.over = true));
    return state;
  }

  it('when nothing happens, then a wait ends after its time, not before', async () => {
    // Arrange
    const pause = createWakeablePause(50);
    const wait = waiting(pause, 1000);

    // Act
    await jest.advanceTimersByTimeAsync(999);
    const early = wait.over;
    await jest.advanceTimersByTimeAsync(1);

    // Assert
    expect(early).toBe(false);
    expect(wait.over).toBe(true);
  });

  it('when woken during a wait, then it ends after the wake delay', async () => {
    // Arrange
    const pause = createWakeablePause(50);
    const wait = waiting(pause, 1000);
    await jest.advanceTimersByTimeAsync(100);

    // Act
    pause.wake();
    await jest.advanceTimersByTimeAsync(49);
    const early = wait.over;
    await jest.advanceTimersByTimeAsync(1);

    // Assert
    expect(early).toBe(false);
    expect(wait.over).toBe(true);
  });

  it('when the wake delay is 0, then a wake ends the wait at once', async () => {
    // Arrange
    const pause = createWakeablePause();
    const wait = waiting(pause, 1000);

    // Act
    pause.wake();
    await settle();

    // Assert
    expect(wait.over).toBe(true);
  });

  it('when woken while no wait runs (mid-round), then the next wait is the short one: the wake is not lost', async () => {
    // Arrange
    const pause = createWakeablePause(50);
    pause.wake();

    // Act
    const next = waiting(pause, 1000);
    await jest.advanceTimersByTimeAsync(50);
    const following = waiting(pause, 1000);
    await jest.advanceTimersByTimeAsync(50);

    // Assert: one wake shortens one wait
    expect(next.over).toBe(true);
    expect(following.over).toBe(false);
  });

  it('when stopped, then the wait under way and every later one end at once', async () => {
    // Arrange
    const pause = createWakeablePause(50);
    const wait = waiting(pause, 1000);

    // Act
    pause.stop();
    await settle();
    const later = waiting(pause, 1000);
    await settle();

    // Assert
    expect(wait.over).toBe(true);
    expect(later.over).toBe(true);
  });
});

describe('createBackgroundJob', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('when a round rejects, then `failed` gets the error and says how long to wait, and the loop goes on', async () => {
    // Arrange
    const calls: string[] = [];
    let rounds = 0;
    const job = createBackgroundJob({
      round: async () => {
        rounds += 1;
        calls.push(`round ${rounds}`);
        if (rounds === 1) throw new Error('database away');
        return 1000;
      },
      failed: async (err) => {
        calls.push(`failed: ${(err as Error).message}`);
        return 200;
      },
      finish: async () => {
        calls.push('finish');
      },
    });

    // Act
    job.start();
    job.start();
    await settle();
    await jest.advanceTimersByTimeAsync(200);
    await job.stop();

    // Assert: one loop (start twice), the failed round's own wait, finish once at the end
    expect(calls).toEqual(['round 1', 'failed: database away', 'round 2', 'finish']);
    expect(job.stopping()).toBe(true);
  });

  it('when stopped during a round, then the round finishes, no other starts, and `finish` runs after it', async () => {
    // Arrange
    const calls: string[] = [];
    let endRound!: () => void;
    const job = createBackgroundJob({
      round: () =>
        new Promise<number>((resolve) => {
          calls.push('round');
          endRound = () => resolve(0);
        }),
      failed: async () => 0,
      finish: async () => {
        calls.push('finish');
      },
    });
    job.start();
    await settle();

    // Act
    const stopped = job.stop();
    await settle();
    const beforeRoundEnds = [...calls];
    endRound();
    await stopped;

    // Assert
    expect(beforeRoundEnds).toEqual(['round']);
    expect(calls).toEqual(['round', 'finish']);
  });
});
