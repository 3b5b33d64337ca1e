/**
 * Lets every promise and tick settle without moving jest's fake clock: for tests that fake timers
 * but leave `setImmediate` real (`jest.useFakeTimers({ doNotFake: ['setImmediate'] })`).
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
