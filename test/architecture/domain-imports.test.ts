import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

// Domain code decides; it does no I/O. So loading it must not load a driver, a server framework,
// a metrics client or a logger: if it does, a domain module (or something it imports, such as
// the root barrel of @order-mail/shared) reaches into an adapter's world.

const ROOT = join(__dirname, '..', '..');
const IO_PACKAGES = ['amqplib', 'pg', 'nodemailer', 'express', 'prom-client', 'pino'];

/**
 * Runs in a fresh `node --import tsx` (a fresh module registry; tsx reads tsconfig.json's `paths`,
 * so `@order-mail/shared/*` are the sources): requires each argument (a file or a module name),
 * then prints, for each, every package (from node_modules) it loaded, directly or through another
 * package, with the shortest chain of modules that reaches it in Node's module graph (`children`).
 */
const PROBE = `
const packageOf = (file) => {
  const at = file.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const parts = file.slice(at + '/node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0];
};
const result = {};
for (const target of process.argv.slice(1)) {
  const start = require.cache[require.resolve(target)] ?? (require(target), require.cache[require.resolve(target)]);
  const chains = {};
  const seen = new Set([start]);
  const queue = [[start, [start.filename]]];
  while (queue.length > 0) {
    const [mod, chain] = queue.shift();
    const pkg = packageOf(mod.filename);
    if (pkg !== undefined) chains[pkg] ??= chain;
    for (const child of mod.children) {
      if (!seen.has(child)) { seen.add(child); queue.push([child, [...chain, child.filename]]); }
    }
  }
  result[target] = chains;
}
process.stdout.write(JSON.stringify(result));
`;

type Loaded = Record<string, Record<string, string[]>>;

/** What each of `targets` loads, in one fresh process (see PROBE). */
async function probe(targets: string[]): Promise<Loaded> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', PROBE, ...targets], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Loaded;
}

/** Every .ts file under `dir`, recursively. */
function typeScriptFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** One line per I/O package a target loads: `money.ts loads amqplib: money.ts → shared/src/entry/broker.ts → …`. */
function ioLoads(loaded: Loaded): string[] {
  const show = (file: string) =>
    relative(ROOT, file)
      .replace(/^node_modules\//, '')
      .replace(/.*\/node_modules\//, '');
  return Object.entries(loaded).flatMap(([target, chains]) =>
    IO_PACKAGES.filter((pkg) => chains[pkg] !== undefined).map(
      (pkg) => `${show(target)} loads ${pkg}: ${chains[pkg].map(show).join(' → ')}`,
    ),
  );
}

describe('domain modules load no I/O package', () => {
  it.each(['order-api', 'mailer'])(
    'when every module of services/%s/src/domain is loaded, then none of amqplib, pg, nodemailer, express, prom-client or pino is',
    async (service) => {
      const files = typeScriptFilesUnder(join(ROOT, 'services', service, 'src', 'domain'));
      expect(files.length).toBeGreaterThan(0);

      const loaded = await probe(files);

      expect(ioLoads(loaded)).toEqual([]);
    },
  );

  it('when a module does load one (the broker and HTTP entry points do), then the probe names it and the chain to it', async () => {
    const loaded = await probe(['@order-mail/shared/broker', '@order-mail/shared/http']);

    const lines = ioLoads(loaded);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^@order-mail\/shared\/broker loads amqplib: shared\/src\/entry\/broker\.ts → .*amqplib\//,
        ),
        expect.stringMatching(/^@order-mail\/shared\/http loads express: /),
        expect.stringMatching(/^@order-mail\/shared\/http loads pino: /),
      ]),
    );
  });

  it('when the contract and diagnostics entry points are loaded, then only zod and @hapi/address (with @hapi/hoek) are', async () => {
    const loaded = await probe(['@order-mail/shared/contract', '@order-mail/shared/diagnostics']);

    expect(Object.keys(loaded['@order-mail/shared/contract']).sort()).toEqual(['@hapi/address', '@hapi/hoek', 'zod']);
    expect(Object.keys(loaded['@order-mail/shared/diagnostics'])).toEqual([]);
  });
});
