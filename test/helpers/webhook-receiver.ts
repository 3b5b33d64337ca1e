import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { eventually } from './broker';

/** One request the receiver got: the raw body (what the signature covers), its headers, and the envelope parsed. */
export interface ReceivedWebhook {
  body: string;
  headers: Record<string, string>;
  payload: { type: string; timestamp: string; data: { orderId: string; eventId: string } & Record<string, unknown> };
  /** What the receiver did with it. */
  answered: Answer;
}

/**
 * How the receiver treats a request: answer with `status` (and `headers`, `body`), `hang` (never
 * answer, the socket left open), or `destroy` (close the connection without an answer).
 */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'destroy';

export interface WebhookReceiver {
  url: string;
  /** Every request so far, in arrival order. */
  received: ReceivedWebhook[];
  /** Decides each request's answer (by its parsed envelope); 204 unless set. */
  answer: (payload: ReceivedWebhook['payload']) => Answer;
  /** The requests about `orderId`, once there are at least `count` (rejects after `timeoutMs`). */
  waitFor(orderId: string, count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  /** Requests left hanging and not answered yet. */
  hanging(): number;
  /** Answers every hanging request with `status` now. */
  answerHanging(status: number): void;
  /** Closes the server and destroys every open connection (a hanging request's sender sees an error). */
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 standing in for the shop's webhook endpoint, scripted per request. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const sockets = new Set<Socket>();
  const held: ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: () => ({ status: 204 }),
    async waitFor(orderId, count, timeoutMs = 15_000) {
      const about = () => receiver.received.filter((r) => r.payload.data.orderId === orderId);
      await eventually(() => about().length >= count, timeoutMs, `${count} webhook(s) about ${orderId}`);
      return about();
    },
    hanging: () => held.length,
    answerHanging(status) {
      for (const res of held.splice(0)) res.writeHead(status).end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const payload = JSON.parse(body) as ReceivedWebhook['payload'];
    const answered = receiver.answer(payload);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    );
    receiver.received.push({ body, headers, payload, answered });
    if (answered === 'hang') {
      held.push(res);
      return;
    }
    if (answered === 'destroy') {
      req.socket.destroy();
      return;
    }
    res.writeHead(answered.status, answered.headers);
    res.end(answered.body);
  }
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/order-mail`;
  return receiver;
}
