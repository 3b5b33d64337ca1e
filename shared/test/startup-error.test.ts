import { createServer, type Server } from 'node:net';
import { AppError, ErrorCodes } from '../src/errors';
import { describeStartupError } from '../src/lifecycle';

const listen = (server: Server, port: number, host?: string) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

/** The error Node raises for listening on a port that another socket holds. */
async function addressInUseError(host?: string): Promise<{ err: NodeJS.ErrnoException; port: number }> {
  const holder = createServer();
  await listen(holder, 0, host);
  const port = (holder.address() as { port: number }).port;
  try {
    await listen(createServer(), port, host);
    throw new Error('expected EADDRINUSE');
  } catch (err) {
    return { err: err as NodeJS.ErrnoException, port };
  } finally {
    holder.close();
  }
}

describe('describeStartupError', () => {
  it.each([
    ['all interfaces', undefined, '[::]'],
    ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
  ])(
    'when the port (on %s) is taken, then the line names the setting holding it, the code and the address',
    async (_name, host, shownAddress) => {
      const { err, port } = await addressInUseError(host);

      const line = describeStartupError(err, { LOG_LEVEL: 'info', PORT: port });

      expect(line).toBe(`PORT ${port} is already in use (EADDRINUSE ${shownAddress}:${port})`);
    },
  );

  it('when the taken port is held by another *PORT setting, then that setting is named', async () => {
    const { err, port } = await addressInUseError('127.0.0.1');

    expect(describeStartupError(err, { PORT: 3000, METRICS_PORT: port })).toMatch(
      /^METRICS_PORT \d+ is already in use/,
    );
  });

  it.each([
    ['EACCES', 'needs privileges this process does not have'],
    ['EADDRNOTAVAIL', 'is not available on this host'],
  ])('when listening fails with %s, then the line says so in one line', (code, text) => {
    const err = Object.assign(new Error(`listen ${code}`), { code, address: '0.0.0.0', port: 80 });

    expect(describeStartupError(err, { PORT: 80 })).toBe(`PORT 80 ${text} (${code} 0.0.0.0:80)`);
  });

  it('when the error is an AppError (e.g. invalid config), then the line is its message', () => {
    const err = new AppError(ErrorCodes.CONFIG_INVALID, 'Invalid configuration: PORT: too big');

    expect(describeStartupError(err)).toBe('Invalid configuration: PORT: too big');
  });

  it('when the error is a bug, then its stack is kept (that is what fixing it takes)', () => {
    const err = new TypeError('x is not a function');

    expect(describeStartupError(err)).toBe(err.stack);
  });
});
