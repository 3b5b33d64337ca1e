import { createSendSlots } from '../../src/domain/send-slots';

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('send slots', () => {
  it('when more work arrives than there are slots, then the rest waits and runs in arrival order as slots free up', async () => {
    // Arrange: 2 slots, 4 pieces of work released by hand
    const slots = createSendSlots(2);
    const started: number[] = [];
    const releases = new Map<number, () => void>();
    const work = (n: number) => () => {
      started.push(n);
      return new Promise<number>((resolve) => releases.set(n, () => resolve(n)));
    };

    // Act
    const all = [1, 2, 3, 4].map((n) => slots.run(work(n)));
    await settle();
    const startedFirst = [...started];
    const waitingFirst = slots.waiting();
    releases.get(2)?.();
    await settle();
    const afterOne = [...started];
    releases.get(1)?.();
    await settle();
    releases.get(3)?.();
    releases.get(4)?.();

    // Assert
    expect(startedFirst).toEqual([1, 2]);
    expect(waitingFirst).toBe(2);
    expect(afterOne).toEqual([1, 2, 3]);
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4]);
    expect(slots.busy()).toBe(0);
  });

  it('when work rejects, then its slot is freed and the rejection reaches the caller', async () => {
    const slots = createSendSlots(1);

    const failed = slots.run(() => Promise.reject(new Error('database down')));
    const next = slots.run(async () => 'ran');

    await expect(failed).rejects.toThrow('database down');
    expect(await next).toBe('ran');
    expect(slots.busy()).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('when the size is %p, then creating the slots throws a RangeError', (size) => {
    expect(() => createSendSlots(size)).toThrow(RangeError);
  });
});
