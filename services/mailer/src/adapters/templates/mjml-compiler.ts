// MJML to HTML in a process of its own. mjml and what it loads (html-minifier, js-beautify, juice,
// cheerio, …) take about 95 MB of resident memory, for work done once at start-up; run apart, the
// mailer never holds them. `node mjml-compiler.js <dir>` prints `{ "<name>": { html, errors } }`
// for every `<name>.mjml` in `<dir>` as one JSON document on stdout and exits 0 (1 on a crash).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import mjml2html from 'mjml';

/** One template's result: the HTML, and MJML's validation errors (strict level) as formatted messages. */
export interface CompiledMjml {
  html: string;
  errors: string[];
}

/** Compiles every `<name>.mjml` in `dir`, in name order; comments are dropped (they are for the template's readers). */
export async function compileMjmlFiles(dir: string): Promise<Record<string, CompiledMjml>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.mjml')).sort();
  const compiled: Record<string, CompiledMjml> = {};
  for (const file of files) {
    const source = await readFile(path.join(dir, file), 'utf8');
    const result = await mjml2html(source, { validationLevel: 'strict', filePath: dir, keepComments: false });
    compiled[file.slice(0, -'.mjml'.length)] = {
      html: result.html,
      errors: result.errors.map((e) => e.formattedMessage),
    };
  }
  return compiled;
}

if (require.main === module) {
  compileMjmlFiles(process.argv[2] ?? '.').then(
    (compiled) => process.stdout.write(JSON.stringify(compiled)),
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
