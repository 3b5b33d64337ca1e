import { deadLetterRows } from '@test/helpers/inspect';
import { connectTestBroker } from '@test/helpers/broker';
import { postJson, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';

const CURRENCIES = [
  { currency: 'EUR', locale: 'en', format: (minor: number) => `€${(minor / 100).toFixed(2)}` },
  { currency: 'USD', locale: 'en-US', format: (minor: number) => `$${(minor / 100).toFixed(2)}` },
  { currency: 'JPY', locale: 'en', format: (minor: number) => `¥${minor.toLocaleString('en')}` },
];

describe('order to inbox, end to end', () => {
  let smtp: SmtpCatcher;
  let stack: TestStack;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    stack = await startTestStack({ smtpUrl: smtp.url });
  });

  afterAll(async () => {
    await stack.dispose();
    await smtp.close();
  });

  it('when 20 orders are posted, then 20 correct emails arrive and the queue ends empty', async () => {
    // Arrange: 20 distinct orders, various currencies, 1-3 items each, one hostile name
    const orders = Array.from({ length: 20 }, (_, i) => {
      const { currency, locale } = CURRENCIES[i % CURRENCIES.length];
      const items = Array.from({ length: (i % 3) + 1 }, (_, j) => ({
        sku: `SKU-${i}-${j}`,
        name: i === 7 && j === 0 ? '<script>alert("x")</script> Widget' : `Item ${i}-${j}`,
        quantity: j + 1,
        unitPrice: 1000 + i * 10 + j,
      }));
      return sampleOrder({
        orderId: `E2E-${i}`,
        customer: { email: `customer${i}@example.com`, name: `Customer ${i}`, locale },
        items,
        currency,
      });
    });

    // Act
    const responses = await Promise.all(orders.map((o) => postJson(stack.apiUrl, '/orders', o)));
    expect(responses.map((r) => r.status)).toEqual(orders.map(() => 202));
    const mails = await smtp.waitForMails(20, 30000);

    // Assert: one email per order, to the right address, with subject, items and total
    expect(mails).toHaveLength(20);
    for (const [i, order] of orders.entries()) {
      const matching = mails.filter((m) => m.subject === `Your order ${order.orderId} is confirmed`);
      expect(matching).toHaveLength(1);
      const [mail] = matching;
      const to = Array.isArray(mail.to) ? mail.to : [mail.to];
      expect(to.flatMap((a) => a?.value.map((v) => v.address))).toEqual([order.customer.email]);
      expect(mail.from?.value[0].address).toBe('orders@shop.example');
      expect(mail.messageId).toMatch(/^<[0-9a-f-]{36}@shop\.example>$/);
      const html = String(mail.html);
      const { format } = CURRENCIES[i % CURRENCIES.length];
      let total = 0;
      for (const item of order.items) {
        const line = item.unitPrice * item.quantity;
        total += line;
        expect(mail.text).toContain(`- ${item.name}: ${format(line)}\n`);
        expect(mail.text).toContain(`${item.quantity} × ${format(item.unitPrice)}`);
        expect(html).toContain(format(line));
      }
      expect(mail.text).toContain(`Total: ${format(total)}`);
      expect(html).toContain(format(total));
      expect((html.match(/class="item"/g) ?? []).length).toBe(order.items.length);
    }
    const hostile = mails.find((m) => m.subject === 'Your order E2E-7 is confirmed');
    expect(String(hostile?.html)).not.toContain('<script>');
    expect(String(hostile?.html)).toContain('&lt;script&gt;');

    // Assert: after a graceful stop every message was acked (unacked ones would be back as ready)
    await stack.stop();
    const { connection, channel } = await connectTestBroker();
    try {
      const work = await channel.checkQueue(stack.names.queue);
      const dead = await channel.checkQueue(stack.names.deadLetterQueue);
      expect(work.messageCount).toBe(0);
      expect(dead.messageCount).toBe(0);
      expect(await deadLetterRows(stack.names.schema)).toHaveLength(0);
    } finally {
      await connection.close();
    }
    expect(smtp.mails).toHaveLength(20);
  });
});
