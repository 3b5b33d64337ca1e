import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import type { RenderedEmail, TemplateRenderer } from '../../domain/ports';

const TEMPLATES_DIR = path.resolve(__dirname, '../../../templates');

type Fill = (model: object) => string;

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
 * Compiles every `<name>.mjml` (+ `<name>.txt`) in a directory once, at start-up: MJML to HTML
 * costs milliseconds, filling the compiled Handlebars template microseconds. Handlebars escapes
 * every `{{value}}` for HTML; the text part is compiled without escaping. `dir` defaults to the
 * service's `templates/`. Rejects when a template is not valid MJML (strict validation), its
 * `.txt` is missing, or the directory holds no `.mjml` at all.
 */
export async function compileTemplates(dir: string = TEMPLATES_DIR): Promise<TemplateRenderer> {
  const hb = createStrictHandlebars();
  const files = await readdir(dir);
  const compiled = new Map<string, { html: Fill; text: Fill }>();
  for (const file of files.filter((f) => f.endsWith('.mjml'))) {
    const name = file.slice(0, -'.mjml'.length);
    const source = await readFile(path.join(dir, file), 'utf8');
    const result = await mjml2html(source, { validationLevel: 'strict', filePath: dir });
    if (result.errors.length > 0) {
      throw new Error(`MJML template ${file} is invalid: ${result.errors.map((e) => e.formattedMessage).join('; ')}`);
    }
    const textSource = await readFile(path.join(dir, `${name}.txt`), 'utf8');
    compiled.set(name, {
      html: hb.compile(result.html, { strict: true }),
      text: hb.compile(textSource, { strict: true, noEscape: true }),
    });
  }
  if (compiled.size === 0) throw new Error(`No MJML templates found in ${dir}`);

  return {
    render(template, model): RenderedEmail {
      const t = compiled.get(template);
      if (!t) throw new AppError(ErrorCodes.TEMPLATE_NOT_FOUND, `Unknown template "${template}"`);
      try {
        return { html: t.html(model), text: t.text(model) };
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
