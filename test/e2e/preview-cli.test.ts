import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sampleOrder } from '@test/helpers/orders';
import { runProcess } from '@test/helpers/processes';

// `npm run preview` as a process: offline (runProcess passes only PATH, so no broker, database or
// SMTP setting reaches it), from the sources through tsx, as package.json's script runs it.

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'services/mailer/src/entry-points/cli/preview.ts');

const preview = (args: string[], env: Record<string, string> = {}) =>
  runProcess(process.execPath, ['--import', 'tsx', CLI, ...args], env);

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('npm run preview (as a process)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'order-mail-preview-'));
    writeFileSync(path.join(dir, 'broken.json'), '{ "orderId": ');
    writeFileSync(
      path.join(dir, 'invalid.json'),
      JSON.stringify({ ...sampleOrder(), customer: { email: 'nobody', name: 'Ada' }, total: 1 }),
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('when given a sample, then it writes <name>.html and <name>.txt and prints the subject', async () => {
    const out = path.join(dir, 'out');

    const result = await preview(['samples/full.json', '--out', out]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Subject: Your order A-2001 is confirmed');
    expect(result.stdout).toContain(`wrote ${path.join(out, 'full.html')}`);
    const html = readFileSync(path.join(out, 'full.html'), 'utf8');
    expect(html).toMatch(/<html[^>]* lang="en"/);
    expect(html).toContain('A-2001');
    expect(readFileSync(path.join(out, 'full.txt'), 'utf8')).toContain('A-2001');
  });

  it('when --locale is given, then the email is in that language', async () => {
    const out = path.join(dir, 'de');

    const result = await preview(['samples/full.json', '--locale', 'de-AT', '--out', out, '--name', 'voll']);

    expect(result.code).toBe(0);
    expect(readFileSync(path.join(out, 'voll.html'), 'utf8')).toMatch(/<html[^>]* lang="de"/);
  });

  it('when --png is given, then it also writes a 375 px and a 640 px screenshot, as tall as the email', async () => {
    const out = path.join(dir, 'png');

    const result = await preview(['samples/minimal.json', '--out', out, '--png']);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const mobile = pngSize(path.join(out, 'minimal-mobile.png'));
    const desktop = pngSize(path.join(out, 'minimal-desktop.png'));
    expect(mobile.width).toBe(375);
    expect(desktop.width).toBe(640);
    expect(mobile.height).toBeGreaterThan(100);
    expect(desktop.height).toBeGreaterThan(100);
  });

  it('when run through npm (package.json "preview"), then it works from the repository root', async () => {
    const out = path.join(dir, 'npm');

    const result = await runProcess('npm', ['run', '--silent', 'preview', '--', 'samples/minimal.json', '--out', out]);

    expect(result.code).toBe(0);
    expect(readFileSync(path.join(out, 'minimal.txt'), 'utf8')).toContain('A-1001');
  });

  it.each([
    [['--help'], 0, /^Usage: npm run preview -- <order\.json> \[options\]/],
    [[], 2, /^Give the order file to preview(.|\n)*Usage: npm run preview/],
    [['samples/full.json', '--frobnicate'], 2, /^Unknown option '--frobnicate'(.|\n)*Usage: npm run preview/],
    [['samples/full.json', '--locale', 'not a locale!'], 2, /^--locale "not a locale!": Invalid locale/],
    [['samples/nope.json'], 1, /^Cannot read the order file samples\/nope\.json: no such file\n$/],
    [['samples'], 1, /^Cannot read the order file samples: it is a directory\n$/],
  ])('when run with %p, then it exits %i saying so', async (args, code, message) => {
    const result = await preview(args);

    expect(result.code).toBe(code);
    expect(code === 0 ? result.stdout : result.stderr).toMatch(message);
  });

  it("when the file is not JSON, then it exits 1 with the parser's message", async () => {
    const result = await preview([path.join(dir, 'broken.json')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/broken\.json is not JSON: /);
  });

  it('when the order is invalid, then it exits 1 naming every field, as POST /orders would', async () => {
    const result = await preview([path.join(dir, 'invalid.json')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid.json is not a valid order (POST /orders would answer 400):');
    expect(result.stderr).toMatch(/^ {2}customer\.email: /m);
    expect(result.stdout).toBe('');
  });

  it('when the total does not match, then it exits 1 naming "total" and both amounts', async () => {
    const file = path.join(dir, 'total.json');
    writeFileSync(file, JSON.stringify({ ...sampleOrder(), total: 1 }));

    const result = await preview([file]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ {2}total: total 1 EUR does not match the computed total 4498 EUR/m);
  });
});
