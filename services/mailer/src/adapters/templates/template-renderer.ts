import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Handlebars from 'handlebars';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import type { RenderedEmail, TemplateRenderer } from '../../domain/ports';
import type { CompiledMjml } from './mjml-compiler';
import { wrapText } from './text-layout';

const TEMPLATES_DIR = path.resolve(__dirname, '../../../templates');

type Fill = (model: object, options?: Handlebars.RuntimeOptions) => string;

/** Where `mjml-compiler` is, and how to run it: compiled (`.js`) as it is, from source through tsx. */
function mjmlCompilerCommand(dir: string): string[] {
  const fromSource = __filename.endsWith('.ts');
  const script = path.join(__dirname, fromSource ? 'mjml-compiler.ts' : 'mjml-compiler.js');
  return [...(fromSource ? ['--import', 'tsx'] : []), script, dir];
}

/**
 * Every `<name>.mjml` in `dir` compiled to HTML by `mjml-compiler` in a child process, so that
 * mjml's ~95 MB stay out of the mailer. Rejects naming the compiler's own error if it crashes.
 */
async function compileMjmlApart(dir: string): Promise<Record<string, CompiledMjml>> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, mjmlCompilerCommand(dir), {
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as Record<string, CompiledMjml>;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`Compiling the MJML templates in ${dir} failed: ${stderr || (err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Handlebars' strict mode does not check a block helper's argument, so `{{#each items}}` over a
 * missing list would render an email without items. This environment's `each` refuses instead.
 */
function createStrictHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  const each = hb.helpers.each;
  hb.registerHelper('each', function (this: unknown, context: unknown, options: Handlebars.HelperOptions) {
    if (context === null || context === undefined) {
      throw new Error('"each" over a missing value');
    }
    return each.call(this, context, options);
  });
  return hb;
}

/**
 * The compiled HTML with its physical sides made logical: every `text-align:left|right`,
 * `align="left|right"` and `direction:ltr` (MJML writes these itself, e.g. on every column, and
 * templates are written left to right) becomes `{{@start}}`, `{{@end}}` or `{{@dir}}`, which
 * `render` fills from the model's `dir`. So one compiled template gives the mirrored layout for
 * right-to-left languages: text starts on the right, tables run right to left. Centred content
 * and everything Handlebars fills in (the data) are left alone.
 */
export function mirrorable(html: string): string {
  return html
    .replace(/direction:\s*ltr/g, 'direction:{{@dir}}')
    .replace(/text-align:\s*left/g, 'text-align:{{@start}}')
    .replace(/text-align:\s*right/g, 'text-align:{{@end}}')
    .replace(/ align="left"/g, ' align="{{@start}}"')
    .replace(/ align="right"/g, ' align="{{@end}}"');
}

/** What `mirrorable`'s placeholders are filled with: the model's `dir` (`ltr` unless it says `rtl`) and its sides. */
function directionData(model: object): { dir: 'ltr' | 'rtl'; start: 'left' | 'right'; end: 'left' | 'right' } {
  return (model as { dir?: unknown }).dir === 'rtl'
    ? { dir: 'rtl', start: 'right', end: 'left' }
    : { dir: 'ltr', start: 'left', end: 'right' };
}

/**
 * Compiles every `<name>.mjml` (+ `<name>.txt`) in a directory once, at start-up: MJML to HTML
 * costs milliseconds (and mjml's memory: it runs in a child process, `compileMjmlApart`), filling
 * the compiled Handlebars template microseconds. Handlebars escapes
 * every `{{value}}` for HTML; the text part is compiled without escaping, and its lines are
 * folded to 72 columns between words (`wrapText`). The HTML's alignments follow the model's `dir`
 * (`mirrorable`). `dir` defaults to the service's `templates/`. Rejects when a template is not
 * valid MJML (strict validation), its `.txt` is missing, or the directory holds no `.mjml` at all.
 */
export async function compileTemplates(dir: string = TEMPLATES_DIR): Promise<TemplateRenderer> {
  const hb = createStrictHandlebars();
  const compiled = new Map<string, { html: Fill; text: Fill }>();
  for (const [name, result] of Object.entries(await compileMjmlApart(dir))) {
    if (result.errors.length > 0) {
      throw new Error(`MJML template ${name}.mjml is invalid: ${result.errors.join('; ')}`);
    }
    const textSource = await readFile(path.join(dir, `${name}.txt`), 'utf8');
    compiled.set(name, {
      html: hb.compile(mirrorable(result.html), { strict: true }),
      text: hb.compile(textSource, { strict: true, noEscape: true }),
    });
  }
  if (compiled.size === 0) throw new Error(`No MJML templates found in ${dir}`);

  return {
    render(template, model): RenderedEmail {
      const t = compiled.get(template);
      if (!t) throw new AppError(ErrorCodes.TEMPLATE_NOT_FOUND, `Unknown template "${template}"`);
      try {
        const data = directionData(model);
        return { html: t.html(model, { data }), text: wrapText(t.text(model, { data })) };
      } catch (err) {
        throw new AppError(
          ErrorCodes.RENDER_FAILED,
          `Template "${template}" failed to render: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
  };
}
