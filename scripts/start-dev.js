#!/usr/bin/env node
// `npm start`: runs the order API, the mailer and (unless SMTP_URL is set) a MailDev mail catcher
// against the local RabbitMQ, with pino's JSON logs on this terminal. Ctrl-C stops all three
// gracefully. Production runs each service on its own (`node services/<name>/dist/main.js`).
'use strict';
const { spawn } = require('node:child_process');
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
if (!smtpUrl) {
  const web = process.env.MAILDEV_WEB_PORT ?? '1080';
  run('maildev', path.join(root, 'node_modules/.bin/maildev'), [
    '--smtp',
    '1025',
    '--ip',
    '127.0.0.1',
    '--web',
    web,
    '--web-ip',
    '127.0.0.1',
  ]);
  process.stderr.write(`MailDev: SMTP on 127.0.0.1:1025, sent emails at http://127.0.0.1:${web}\n`);
}
run('order-api', process.execPath, ['services/order-api/dist/main.js'], { PORT: process.env.ORDER_API_PORT ?? '3000' });
run('mailer', process.execPath, ['services/mailer/dist/main.js'], {
  PORT: process.env.MAILER_PORT ?? '3001',
  SMTP_URL: smtpUrl ?? 'smtp://127.0.0.1:1025',
});

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
