#!/usr/bin/env node
// `npm run preview -- <order.json> [--locale TAG] [--out DIR] [--name NAME] [--png]`: the
// confirmation email of an order, composed offline exactly as the mailer would send it.
import { runPreview } from './preview-run';

// Loaded only once the arguments and the order file are known to be good: the templates'
// compiler (mjml) takes a second or two to load, a usage error should not wait for it.
async function composeDeps(env: NodeJS.ProcessEnv) {
  const [{ loadMailerConfig }, { composeDepsFromConfig }] = await Promise.all([
    import('../../config.js'),
    import('../../service.js'),
  ]);
  return composeDepsFromConfig(loadMailerConfig(env));
}

runPreview(process.argv.slice(2), {
  env: process.env,
  // npm runs scripts from the package root; paths on the command line are the caller's.
  cwd: process.env.INIT_CWD ?? process.cwd(),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  composeDeps,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`preview failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
