import * as amqp from 'amqplib';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A plain connection for tests to inspect and clean up queues and exchanges. */
export async function connectTestBroker(): Promise<{ connection: amqp.ChannelModel; channel: amqp.Channel }> {
  const connection = await amqp.connect(AMQP_URL);
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return { connection, channel };
}

/** Polls `probe` until it returns true; rejects after `timeoutMs`. */
export async function eventually(
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 10000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
