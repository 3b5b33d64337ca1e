import { createGroupCommit, type GroupCommitOptions } from '../../src/adapters/db/group-commit';

interface Item {
  key: string;
  value: number;
}

/** A flush whose batches the test releases by hand, recording what each batch held. */
function scriptedFlush() {
  const batches: Item[][] = [];
  const releases: Array<(fail?: unknown) => void> = [];
  const flush = (items: readonly Item[]) => {
    batches.push([...items]);
    return new Promise<number[]>((resolve, reject) => {
      releases.push((fail) => (fail ? reject(fail) : resolve(items.map((i) => i.value * 10))));
    });
  };
  return { batches, releases, flush };
}

const item = (key: string, value = Number(key.replace(/\D/g, '')) || 0): Item => ({ key, value });

function writer(
  flush: GroupCommitOptions<Item, number>['flush'],
  overrides: Partial<GroupCommitOptions<Item, number>> = {},
) {
  return createGroupCommit<Item, number>({
    flush,
    keyOf: (i) => i.key,
    maxBatch: 100,
    maxConcurrent: 1,
    isolateAfter: () => true,
    ...overrides,
  });
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('when writes arrive while a batch is under way, then they wait and leave together in the next batch', async () => {
    // Arrange
    const f = scriptedFlush();
    const write = writer(f.flush);

    // Act: one write leaves at once; three arrive while it is under way
    const first = write(item('a1'));
    await settle();
    const later = [write(item('b2')), write(item('c3')), write(item('d4'))];
    await settle();
    const batchesWhileFirstRuns = f.batches.length;
    f.releases[0]();
    await settle();
    f.releases[1]();

    // Assert
    expect(batchesWhileFirstRuns).toBe(1);
    expect(await first).toBe(10);
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
    expect(f.batches.map((b) => b.map((i) => i.key))).toEqual([['a1'], ['b2', 'c3', 'd4']]);
  });

  it('when writes are submitted in one turn of the event loop, then they share one batch with no waiting', async () => {
    const f = scriptedFlush();
    const write = writer(f.flush);

    const all = [write(item('a1')), write(item('b2'))];
    await settle();
    f.releases[0]();

    expect(await Promise.all(all)).toEqual([10, 20]);
    expect(f.batches).toHaveLength(1);
  });

  it('when two writes have the same key, then they never share a batch and keep their order', async () => {
    const f = scriptedFlush();
    const write = writer(f.flush);

    const all = [write(item('x', 1)), write(item('y', 2)), write(item('x', 3))];
    await settle();
    f.releases[0]();
    await settle();
    f.releases[1]();

    expect(await Promise.all(all)).toEqual([10, 20, 30]);
    expect(f.batches.map((b) => b.map((i) => `${i.key}${i.value}`))).toEqual([['x1', 'y2'], ['x3']]);
  });

  it('when a write has the key of a batch under way, then it waits for that batch even though another batch could start', async () => {
    const f = scriptedFlush();
    const write = writer(f.flush, { maxConcurrent: 2 });

    const first = write(item('x', 1));
    await settle();
    const second = write(item('x', 2));
    await settle();
    const batchesWhileFirstRuns = f.batches.length;
    f.releases[0]();
    await settle();
    f.releases[1]();

    expect(batchesWhileFirstRuns).toBe(1);
    expect(await Promise.all([first, second])).toEqual([10, 20]);
    expect(f.batches.map((b) => b.map((i) => i.value))).toEqual([[1], [2]]);
  });

  it.each([
    { maxBatch: 2, maxConcurrent: 1, expected: [2, 2, 1] },
    { maxBatch: 5, maxConcurrent: 3, expected: [5] },
  ])(
    'when 5 writes are queued with maxBatch $maxBatch and maxConcurrent $maxConcurrent, then the batches hold $expected',
    async ({ maxBatch, maxConcurrent, expected }) => {
      const f = scriptedFlush();
      const write = writer(f.flush, { maxBatch, maxConcurrent });

      const all = ['a1', 'b2', 'c3', 'd4', 'e5'].map((k) => write(item(k)));
      for (let i = 0; i < expected.length; i += 1) {
        await settle();
        f.releases[i]();
      }

      expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
      expect(f.batches.map((b) => b.length)).toEqual(expected);
    },
  );

  it('when at most 2 batches may run at once, then a second batch starts while the first is under way', async () => {
    const f = scriptedFlush();
    const write = writer(f.flush, { maxConcurrent: 2 });

    const first = write(item('a1'));
    await settle();
    const second = write(item('b2'));
    await settle();
    const third = write(item('c3'));
    await settle();
    const runningBeforeRelease = f.batches.length;
    f.releases[0]();
    f.releases[1]();
    await settle();
    f.releases[2]();

    expect(runningBeforeRelease).toBe(2);
    expect(await Promise.all([first, second, third])).toEqual([10, 20, 30]);
  });

  it('when a batch fails on an error worth isolating, then each write is retried alone and settles with its own outcome', async () => {
    // Arrange: the batch fails because of item "bad"; alone, the others succeed
    const batches: string[][] = [];
    const write = writer(async (items) => {
      batches.push(items.map((i) => i.key));
      if (items.some((i) => i.key === 'bad')) throw new Error('invalid input syntax for type uuid');
      return items.map((i) => i.value);
    });

    // Act
    const results = await Promise.allSettled([write(item('a1')), write(item('bad', 0)), write(item('c3'))]);

    // Assert
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('invalid input syntax for type uuid'));
    expect(batches).toEqual([['a1', 'bad', 'c3'], ['a1'], ['bad'], ['c3']]);
  });

  it('when a batch fails on an error not worth isolating, then every write of it rejects with that error, once', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    let flushes = 0;
    const write = writer(
      () => {
        flushes += 1;
        return Promise.reject(down);
      },
      { isolateAfter: () => false },
    );

    const results = await Promise.allSettled([write(item('a1')), write(item('b2'))]);

    expect(results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
    expect(flushes).toBe(1);
  });

  it("when a flush returns the wrong number of results, then its writes reject instead of getting a neighbour's result", async () => {
    const write = writer(async () => [1], { isolateAfter: () => false });

    const results = await Promise.allSettled([write(item('a1')), write(item('b2'))]);

    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/1 results for 2 items/);
  });

  it('when the writer has been idle, then the next write leaves at once and later ones still flow', async () => {
    const f = scriptedFlush();
    const write = writer(f.flush);

    const first = write(item('a1'));
    await settle();
    f.releases[0]();
    await first;
    await settle();
    const second = write(item('b2'));
    await settle();
    f.releases[1]();

    expect(await second).toBe(20);
    expect(f.batches).toHaveLength(2);
  });
});
