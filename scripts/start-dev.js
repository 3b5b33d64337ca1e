#!/usr/bin/env node
// `npm start`: runs the order API, the mailer and (unless SMTP_URL is set) a MailDev mail catcher
// against the local RabbitMQ, with pino's JSON logs on this terminal. Ctrl-C stops all three
// gracefully. Production runs each service on its own (`node services/<name>/dist/main.js`).
// POST /orders needs a key: unless ORDER_API_KEYS (or ORDER_API_AUTH=off) is given, a random one
// is made at each start and printed, with a ready-to-paste curl, once the order API answers.
'use strict';
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const children = [];
let stopping = false;

function run(name, command, args, env) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${code ?? signal}); stopping the others\n`);
      stopAll(code === 0 ? 1 : (code ?? 1));
    }
  });
  children.push(child);
  return child;
}

function stopAll(exitCode) {
  stopping = true;
  let left = children.filter((c) => c.exitCode === null && c.signalCode === null).length;
  if (left === 0) process.exit(exitCode);
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.once('exit', () => {
      left -= 1;
      if (left === 0) process.exit(exitCode);
    });
    child.kill('SIGTERM');
  }
}

const smtpUrl = process.env.SMTP_URL;
const maildevSmtpPort = process.env.MAILDEV_SMTP_PORT ?? '1025';
if (!smtpUrl) {
  const web = process.env.MAILDEV_WEB_PORT ?? '1080';
  run('maildev', path.join(root, 'node_modules/.bin/maildev'), [
    '--smtp',
    maildevSmtpPort,
    '--ip',
    '127.0.0.1',
    '--web',
    web,
    '--web-ip',
    '127.0.0.1',
  ]);
  process.stderr.write(
    `MailDev (MAILDEV_SMTP_PORT, MAILDEV_WEB_PORT): SMTP on 127.0.0.1:${maildevSmtpPort}, sent emails at http://127.0.0.1:${web}\n`,
  );
}
const apiPort = process.env.ORDER_API_PORT ?? '3000';
const keysGiven = Boolean(process.env.ORDER_API_KEYS?.trim()) || process.env.ORDER_API_AUTH === 'off';
// 32 random bytes as 64 hex digits: a key of its own for every start, never written anywhere but here.
const apiKey = keysGiven ? null : randomBytes(32).toString('hex');
run('order-api', process.execPath, ['services/order-api/dist/main.js'], {
  PORT: apiPort,
  ...(apiKey && { ORDER_API_KEYS: apiKey }),
});
run('mailer', process.execPath, ['services/mailer/dist/main.js'], {
  PORT: process.env.MAILER_PORT ?? '3001',
  SMTP_URL: smtpUrl ?? `smtp://127.0.0.1:${maildevSmtpPort}`,
});

/** The curl of README's quick start, with this start's key. */
function printKey() {
  const auth =
    process.env.ORDER_API_AUTH === 'off'
      ? ''
      : ` \\\n  -H "Authorization: Bearer ${apiKey ?? '<a key of ORDER_API_KEYS>'}"`;
  process.stderr.write(
    (apiKey
      ? `\nOrder API key for this run (a new one at each start; set ORDER_API_KEYS to choose): ${apiKey}\n`
      : `\nOrder API keys: ${process.env.ORDER_API_AUTH === 'off' ? 'none (ORDER_API_AUTH=off)' : 'from ORDER_API_KEYS'}\n`) +
      'Create an order:\n\n' +
      `curl -i http://127.0.0.1:${apiPort}/orders${auth} \\\n` +
      `  -H 'Content-Type: application/json' -H 'X-Request-Id: demo-1' \\\n` +
      `  -d '{ "orderId": "A-1001", "customer": { "email": "ada@example.com", "name": "Ada Lovelace", "locale": "en" }, ` +
      `"items": [ { "sku": "SKU-1", "name": "Widget", "quantity": 2, "unitPrice": 1999 } ], "currency": "EUR" }'\n\n`,
  );
}

/** Prints the key once the order API answers /healthz (asked every 200 ms until it does). */
function printKeyWhenUp() {
  if (stopping) return;
  const retry = () => setTimeout(printKeyWhenUp, 200).unref();
  http
    .get({ host: '127.0.0.1', port: Number(apiPort), path: '/healthz', timeout: 1000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) printKey();
      else retry();
    })
    .on('timeout', function onTimeout() {
      this.destroy();
    })
    .on('error', retry);
}
printKeyWhenUp();

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
