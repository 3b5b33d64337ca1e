import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** What the test asks the browser child for (see chromium-worker.ts). */
export type ChromiumRequest =
  { type: 'inspect'; id: number; html: string; width: number; script: string; screenshot?: string } | { type: 'close' };

export type ChromiumReply = { id: number; result: unknown } | { id: number; error: string };

export interface Chromium {
  /**
   * Loads `html` in a new page `width` px wide, evaluates `script` (a JavaScript expression, run in
   * the page) and resolves with its result; saves a PNG of the whole page to `screenshot` if given.
   */
  inspect(html: string, options: { width: number; script: string; screenshot?: string }): Promise<unknown>;
  /** Closes the browser and ends the child process. */
  close(): Promise<void>;
}

const ROOT = path.join(__dirname, '..', '..');

/**
 * One headless Chromium (Debian's, `/usr/bin/chromium` or `CHROMIUM_PATH`, via puppeteer-core) in
 * a child process of its own: puppeteer-core is an ES module, which jest's CommonJS runtime cannot
 * load, so the test talks to it over IPC. Start one per test file (beforeAll), close it in afterAll.
 */
export function startChromium(): Chromium {
  const child: ChildProcess = fork(path.join(__dirname, 'chromium-worker.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (reply: ChromiumReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(reply.result);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error('the Chromium child process exited'));
    pending.clear();
  });
  let next = 0;
  return {
    inspect(html, options) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'inspect', id, html, ...options } satisfies ChromiumRequest);
      });
    },
    async close() {
      if (child.connected) child.send({ type: 'close' } satisfies ChromiumRequest);
      await exited;
    },
  };
}
