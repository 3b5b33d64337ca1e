import { eventually } from '@test/helpers/broker';
import { query } from '@test/helpers/database';
import { jsonOf, type Loose } from '@test/helpers/http';
import { ledgerRow, recordedDeadLetters, subjectOf } from '@test/helpers/inspect';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { runDlqCli } from '@test/helpers/processes';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { ADMIN_AUTH, DLQ_CLI_ENV, startTestStack, type TestStack } from '@test/helpers/stack';

// Issue #14: a replay does not contact a suppressed recipient unless it says `force`. The
// tests run in order on one stack: each goes on from where the previous one left the dead letters.

/** Refused for good at RCPT TO (5.1.1): dead-lettered and suppressed. */
const GONE = 'gone@example.com';
/** Refused at RCPT TO for a reason about us (5.7.1): dead-lettered, not suppressed. */
const RELAY = 'relay@example.net';

describe('replaying dead letters whose recipient is suppressed (real RabbitMQ, PostgreSQL and SMTP server)', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;
  /** The dead letters' record ids, by order id. */
  const letterIds: Record<string, string> = {};

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url, env: { REPLAY_RATE_PER_SECOND: '20' } });
  });

  afterAll(async () => {
    await stack?.dispose();
    await smtp?.close();
  });

  const rcptsTo = (address: string) => smtp.recipients.filter((r) => r === address).length;
  const jobOf = (id: string) => jsonOf(fetch(`${stack.mailerUrl}/dead-letters/replays/${id}`, { headers: ADMIN_AUTH }));
  const letterState = async (id: string) =>
    (await jsonOf(fetch(`${stack.mailerUrl}/dead-letters/${id}`, { headers: ADMIN_AUTH }))).state as string;
  const postReplay = (body: Record<string, unknown>) =>
    fetch(`${stack.mailerUrl}/dead-letters/replay`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  async function postOrder(orderId: string, email: string): Promise<void> {
    const res = await postJson(
      stack.apiUrl,
      '/orders',
      sampleOrder({ orderId, customer: { email, name: 'Ada', locale: 'en' } }),
    );
    expect(res.status).toBe(202);
  }

  it('when an order got 550 5.1.1 at RCPT TO, then its dead letter is recorded, its address suppressed, and a dry run reports it as one a replay would skip', async () => {
    // Arrange: two dead letters with SMTP code 550, one of them to an address refused for good
    smtp.behaviour = {
      rejectRecipients: {
        [GONE]: { code: 550, message: '5.1.1 <gone@example.com>: No such user' },
        [RELAY]: { code: 550, message: '5.7.1 Relaying denied' },
      },
    };
    await postOrder('RS-gone', GONE);
    await postOrder('RS-relay', RELAY);
    for (const letter of await recordedDeadLetters(stack.names.schema, 2)) {
      letterIds[JSON.parse(letter.content.toString('utf8')).order.orderId as string] = letter.id;
    }
    await eventually(async () => {
      const rows = await query<{ address: string }>(`SELECT address FROM "${stack.names.schema}".suppressions`);
      return rows.length === 1 && rows[0].address === GONE;
    });
    smtp.behaviour = {};

    // Act
    const res = await postReplay({ smtpCode: 550, dryRun: true });
    const cli = await runDlqCli(['replay', '--smtp-code', '550', '--dry-run', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    // Assert: both would be taken on, the suppressed one would be skipped; nothing moved
    expect(res.status).toBe(200);
    const answer: Loose = await res.json();
    expect(answer).toMatchObject({
      dryRun: true,
      force: false,
      matched: 2,
      suppressed: { count: 1, deadLetterIds: [letterIds['RS-gone']], skipped: true },
    });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('dry run: 2 dead letter(s) match: 1 would be replayed, 1 skipped as suppressed\n');
    expect(cli.stdout).toContain(`skipped as suppressed (recipient on the suppression list`);
    expect(cli.stdout).toMatch(new RegExp(`--force sends them\\): ${letterIds['RS-gone']}$`, 'm'));
    expect(await letterState(letterIds['RS-gone'])).toBe('dead');
    expect(smtp.mails).toHaveLength(0);
  });

  it('when the dead letters are replayed without force, then the suppressed one is skipped as suppressed and stays dead, its recipient is not contacted, and the other is sent', async () => {
    // Arrange
    const goneRcpts = rcptsTo(GONE);

    // Act
    const cli = await runDlqCli(['replay', '--smtp-code', '550', '--url', stack.mailerUrl], DLQ_CLI_ENV);

    // Assert: the job's result says so, in the CLI and the API
    expect(cli.code).toBe(0);
    const jobId = /^replay job ([0-9a-f-]{36}) started: 2 dead letter\(s\)$/m.exec(cli.stdout)?.[1] ?? '';
    expect(cli.stdout).toContain(`replay job ${jobId} succeeded: moved 1, skipped 1 (suppressed 1), failed 0\n`);
    expect(await jobOf(jobId)).toMatchObject({
      state: 'succeeded',
      force: false,
      matched: 2,
      moved: 1,
      skipped: { suppressed: 1 },
      pending: 0,
    });
    // Assert: the other order was sent; the suppressed one waits, dead, for a forced replay
    const [mail] = await smtp.waitForMails(1, 15000);
    expect(mail.subject).toBe(subjectOf('RS-relay'));
    await eventually(async () => (await ledgerRow(stack.names.schema, 'RS-relay'))?.status === 'sent');
    expect(await letterState(letterIds['RS-gone'])).toBe('dead');
    expect(await letterState(letterIds['RS-relay'])).toBe('replayed');
    expect(rcptsTo(GONE)).toBe(goneRcpts);
    expect(await ledgerRow(stack.names.schema, 'RS-gone')).toMatchObject({ status: 'dead', attempts: 1 });
  });

  it('when the dead letter is replayed with force, then its copy is sent to the suppressed recipient and the delivery ends sent', async () => {
    // Arrange
    const goneRcpts = rcptsTo(GONE);
    smtp.mails.length = 0;
    const dry = await runDlqCli(
      ['replay', '--order-id', 'RS-gone', '--force', '--dry-run', '--url', stack.mailerUrl],
      DLQ_CLI_ENV,
    );

    // Act
    const res = await postReplay({ orderId: 'RS-gone', force: true });
    const started: Loose = await res.json();
    let job: Loose = started;
    await eventually(async () => (job = await jobOf(started.id)).state !== 'running', 15000, 'the forced job finished');

    // Assert: the dry run said it would be sent anyway; the job moved it
    expect(dry.stdout).toContain('dry run: 1 dead letter(s) would be replayed\n');
    expect(dry.stdout).toContain(
      `of which 1 to a suppressed recipient, sent anyway (--force): ${letterIds['RS-gone']}\n`,
    );
    expect(res.status).toBe(202);
    expect(started).toMatchObject({ force: true, matched: 1, filter: { orderId: 'RS-gone' } });
    expect(job).toMatchObject({ state: 'succeeded', force: true, moved: 1, skipped: {} });
    // Assert: the SMTP server, now accepting, got it; the ledger says sent; the address stays suppressed
    const [mail] = await smtp.waitForMails(1, 15000);
    expect(mail.subject).toBe(subjectOf('RS-gone'));
    expect(rcptsTo(GONE)).toBe(goneRcpts + 1);
    await eventually(async () => (await ledgerRow(stack.names.schema, 'RS-gone'))?.status === 'sent');
    expect(await ledgerRow(stack.names.schema, 'RS-gone')).toMatchObject({ status: 'sent', attempts: 2 });
    expect(await letterState(letterIds['RS-gone'])).toBe('replayed');
    const suppressed = await query(`SELECT 1 FROM "${stack.names.schema}".suppressions WHERE address = $1`, [GONE]);
    expect(suppressed).toHaveLength(1);
  });
});
