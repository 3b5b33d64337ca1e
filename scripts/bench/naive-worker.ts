// The naive baseline's worker (`naiveBaseline` in ./pipeline runs it with tsx): the order
// confirmation mailer as the usual tutorial writes it, to show what the real mailer's design buys.
//   - prefetch 1: one message at a time;
//   - per message: parse the JSON, compile the MJML template to HTML (`mjml2html`), compile that
//     with Handlebars and fill it, create a new nodemailer transport (unpooled), send, ack;
//   - no ledger, no retries (a failure nacks the message back onto the queue).
// The email is the real one: the same template and the same model (`buildOrderConfirmationEmail`,
// whose message catalogues are read once at start, as any tutorial would read its strings), so the
// difference is the method, not the message. Environment: AMQP_URL, QUEUE (an existing queue:
// the bench's work queue), SMTP_URL, MAIL_FROM. Runs until SIGTERM.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as amqp from 'amqplib';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import nodemailer from 'nodemailer';
import type { OrderConfirmedEvent } from '@order-mail/shared/contract';
import { loadMessageCatalogues } from '../../services/mailer/src/adapters/i18n/message-catalogues';
import { buildOrderConfirmationEmail } from '../../services/mailer/src/domain/order-email';
import type { Localizer } from '../../services/mailer/src/domain/ports';

const TEMPLATES = path.resolve(__dirname, '../../services/mailer/templates');
const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** Renders and sends the email of one event, tutorial style: compile everything, new transport, send. */
async function handle(event: OrderConfirmedEvent, localizer: Localizer): Promise<void> {
  const mailFrom = env('MAIL_FROM');
  const email = buildOrderConfirmationEmail(event, {
    shop: { name: 'Bench Shop', brandColor: '#1f5fa8' },
    localizer,
    messageIdDomain: 'shop.example',
  });
  const source = readFileSync(path.join(TEMPLATES, 'order-confirmation.mjml'), 'utf8');
  const { html } = await mjml2html(source, { validationLevel: 'soft', filePath: TEMPLATES, keepComments: false });
  const text = readFileSync(path.join(TEMPLATES, 'order-confirmation.txt'), 'utf8');
  const transport = nodemailer.createTransport(env('SMTP_URL'));
  try {
    await transport.sendMail({
      from: mailFrom,
      to: { name: email.to.name, address: email.to.address },
      subject: email.subject,
      messageId: email.messageId,
      html: Handlebars.compile(html)(email.model),
      text: Handlebars.compile(text, { noEscape: true })(email.model),
    });
  } finally {
    transport.close();
  }
}

async function main(): Promise<void> {
  const localizer = await loadMessageCatalogues();
  const connection = await amqp.connect(env('AMQP_URL'));
  const channel = await connection.createChannel();
  await channel.prefetch(1);
  await channel.checkQueue(env('QUEUE'));
  await channel.consume(env('QUEUE'), async (msg) => {
    if (!msg) return;
    try {
      await handle(JSON.parse(msg.content.toString('utf8')) as OrderConfirmedEvent, localizer);
      channel.ack(msg);
    } catch (err) {
      process.stderr.write(`naive worker: ${(err as Error).message}\n`);
      channel.nack(msg, false, true);
    }
  });
  process.once('SIGTERM', () => {
    void connection.close().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`naive worker failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
