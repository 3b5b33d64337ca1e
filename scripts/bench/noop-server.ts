/**
 * The express 5 no-op the order API is read against (`expressNoopRate` in limits.ts starts it):
 *
 *   node --import tsx scripts/bench/noop-server.ts
 *
 * `express.json()` and `POST /orders` → 202 `{}`: what any express 5 JSON endpoint costs, with
 * nothing of the order API's own work (authentication, validation, publishing). Listens on a free
 * port of 127.0.0.1 and prints `{"port":N}` to stdout once it does; SIGTERM ends it.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
app.use(express.json());
app.post('/orders', (_req, res) => {
  res.status(202).json({});
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
