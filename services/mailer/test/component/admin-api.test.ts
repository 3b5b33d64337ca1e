import { jsonOf } from '../../../../test/helpers/http';
import { connectTestBroker, eventually } from '../../../../test/helpers/broker';
import { ledgerRow } from '../../../../test/helpers/inspect';
import { postJson, sampleOrder } from '../../../../test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '../../../../test/helpers/smtp-catcher';
import { deleteStackTopology, startTestStack, type TestStack } from '../../../../test/helpers/stack';

const TOKEN = 'admin-token-for-tests-0123456789';

describe('mailer admin API', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = (path: string, headers: Record<string, string> = auth) => fetch(`${stack.mailerUrl}${path}`, { headers });

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: { ADMIN_TOKEN: TOKEN } });
    // One sent order, one dead one (550), one dead letter that is not JSON.
    expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: 'ADM-sent' }))).status).toBe(202);
    await eventually(async () => (await ledgerRow(stack.names.schema, 'ADM-sent'))?.status === 'sent');
    smtp.behaviour = { rejectWith: { code: 550, message: 'No such user' } };
    expect((await postJson(stack.apiUrl, '/orders', sampleOrder({ orderId: 'ADM-dead' }))).status).toBe(202);
    await eventually(async () => (await ledgerRow(stack.names.schema, 'ADM-dead'))?.status === 'dead');
    const { connection, channel } = await connectTestBroker();
    channel.publish(stack.names.exchange, 'order.confirmed', Buffer.from('garbage'), { messageId: 'garbage-1' });
    await eventually(async () => (await channel.checkQueue(stack.names.deadLetterQueue)).messageCount === 2);
    await connection.close();
  });

  afterAll(async () => {
    await stack.stop();
    await deleteStackTopology(stack.names);
    await smtp.close();
  });

  it('when ADMIN_TOKEN is set and a request has no or a wrong token, then it answers 401, while health stays open', async () => {
    expect((await get('/deliveries', {})).status).toBe(401);
    expect((await get('/dead-letters', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect(await jsonOf(get('/deliveries', {}))).toMatchObject({ error: 'unauthorized' });
    expect((await get('/healthz', {})).status).toBe(200);
    expect((await get('/metrics', {})).status).toBe(200);
  });

  it('when deliveries are listed with filters, then only matching records come back, newest first', async () => {
    const all = await jsonOf(get('/deliveries'));
    expect(all.deliveries.map((d: { orderId: string }) => d.orderId)).toEqual(['ADM-dead', 'ADM-sent']);

    const dead = await jsonOf(get('/deliveries?status=dead'));
    expect(dead.deliveries).toHaveLength(1);
    expect(dead.deliveries[0]).toMatchObject({ orderId: 'ADM-dead', status: 'dead', attempts: 1, smtpCode: 550 });

    const one = await jsonOf(get('/deliveries?orderId=ADM-sent&limit=1'));
    expect(one.deliveries).toHaveLength(1);
    expect(one.deliveries[0]).toMatchObject({ orderId: 'ADM-sent', status: 'sent' });
  });

  it('when a delivery is fetched by orderId, then it comes with its attempts; an unknown order is a 404', async () => {
    const res = await get('/deliveries/ADM-dead');
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body.delivery).toMatchObject({ orderId: 'ADM-dead', status: 'dead', lastErrorClass: 'permanent' });
    expect(body.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'permanent',
        smtpCode: 550,
        workerId: stack.mailerConfig.WORKER_ID,
      }),
    ]);
    expect((await get('/deliveries/NOPE-404')).status).toBe(404);
  });

  it('when the path or the body type is malformed, then it answers 4xx, not 500', async () => {
    expect((await get('/deliveries/%E0%A4%A')).status).toBe(400);
    const replay = await fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: '{"all":true}',
    });
    expect(replay.status).toBe(415);
  });

  it('when the query is invalid, then it answers 400 with details', async () => {
    const res = await get('/deliveries?status=lost&limit=0');
    expect(res.status).toBe(400);
    const body = await jsonOf(res);
    expect(body.error).toBe('validation_failed');
    expect(body.details.map((d: { path: string }) => d.path).sort()).toEqual(['limit', 'status']);
  });

  it('when dead letters are listed page by page, then each page has the right ones and none is consumed', async () => {
    const first = await jsonOf(get('/dead-letters?limit=1'));
    const second = await jsonOf(get('/dead-letters?limit=1&offset=1'));
    const again = await jsonOf(get('/dead-letters'));

    expect(first.total).toBe(2);
    expect(first.messages).toHaveLength(1);
    expect(second.messages).toHaveLength(1);
    expect(again.total).toBe(2);
    const reasons = again.messages.map((m: { reason: string }) => m.reason).sort();
    expect(reasons).toEqual(['invalid_event', 'smtp_rejected']);
    expect(again.messages.find((m: { reason: string }) => m.reason === 'smtp_rejected')).toMatchObject({
      orderId: 'ADM-dead',
      smtpCode: 550,
      attempts: 1,
      workerId: stack.mailerConfig.WORKER_ID,
    });
  });
});
