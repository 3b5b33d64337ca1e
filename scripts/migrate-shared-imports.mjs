#!/usr/bin/env node
// Rewrites `import { … } from '@order-mail/shared'` in the given files into imports from the
// subpath entry points (`@order-mail/shared/contract`, `/http`, …), choosing each symbol's entry
// point by what that entry point exports (read with the TypeScript compiler from
// shared/src/entry/*.ts, the sources of shared/package.json's "exports"), so the map never goes
// stale. Keeps `import type` and per-symbol `type` modifiers and `a as b` renames; a group whose
// symbols are all types becomes an `import type`, so it loads nothing at run time. Prints each
// change; files without such an import are left untouched.
//
//   node scripts/migrate-shared-imports.mjs [--dry-run] <file.ts>…
//
// Exit code 0 when every import could be rewritten, 1 when one could not (a symbol no entry point
// exports, or one that two export; a namespace, default or side-effect import of the root), which
// is left as it was and named; 2 for a usage error. Run Prettier afterwards if a new import is
// longer than 120 characters (it is written across lines the way Prettier writes it, but other
// formatting is not checked here).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = '@order-mail/shared';
const PRINT_WIDTH = 120;

/** Entry point subpath (`contract`) → its source file, in package.json's order. */
function entryPoints() {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'shared/package.json'), 'utf8'));
  return Object.keys(manifest.exports ?? {})
    .filter((key) => key !== '.')
    .map((key) => {
      const name = key.replace(/^\.\//, '');
      return { name, source: join(ROOT, 'shared/src/entry', `${name}.ts`) };
    });
}

/** Exported name → the entry points that export it (values and types alike). */
function exportsByName(entries) {
  const program = ts.createProgram(
    entries.map((e) => e.source),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
      skipLibCheck: true,
    },
  );
  const checker = program.getTypeChecker();
  const owners = new Map();
  for (const entry of entries) {
    const file = program.getSourceFile(entry.source);
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (!moduleSymbol) throw new Error(`cannot read the exports of ${relative(ROOT, entry.source)}`);
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      owners.set(symbol.name, [...(owners.get(symbol.name) ?? []), entry.name]);
    }
  }
  return owners;
}

/** One import specifier as written: `type A`, `A as B`. */
function specifierText(element, dropType) {
  const type = element.isTypeOnly && !dropType ? 'type ' : '';
  const renamed = element.propertyName ? `${element.propertyName.text} as ` : '';
  return `${type}${renamed}${element.name.text}`;
}

/** An import statement as Prettier would print it (one line if it fits, else one specifier a line). */
function importText(indent, typeOnly, specifiers, from) {
  const keyword = typeOnly ? 'import type' : 'import';
  const oneLine = `${indent}${keyword} { ${specifiers.join(', ')} } from '${from}';`;
  if (oneLine.length <= PRINT_WIDTH) return oneLine;
  return [`${indent}${keyword} {`, ...specifiers.map((s) => `${indent}  ${s},`), `${indent}} from '${from}';`].join(
    '\n',
  );
}

/**
 * The replacement of one import declaration of the root, or `{ problem }` if it cannot be
 * rewritten.
 */
function rewriteImport(statement, owners, entryOrder, indent) {
  const clause = statement.importClause;
  const bindings = clause?.namedBindings;
  if (!clause || clause.name || !bindings || !ts.isNamedImports(bindings)) {
    return { problem: 'not a named import ({ … }): rewrite it by hand' };
  }
  const groups = new Map();
  for (const element of bindings.elements) {
    const name = (element.propertyName ?? element.name).text;
    const found = owners.get(name) ?? [];
    if (found.length !== 1) {
      return {
        problem:
          found.length === 0
            ? `"${name}" is exported by no entry point`
            : `"${name}" is exported by several entry points (${found.join(', ')})`,
      };
    }
    groups.set(found[0], [...(groups.get(found[0]) ?? []), element]);
  }
  const statements = entryOrder
    .filter((entry) => groups.has(entry))
    .map((entry) => {
      const elements = groups.get(entry);
      const allTypes = clause.isTypeOnly || elements.every((e) => e.isTypeOnly);
      const specifiers = elements.map((e) => specifierText(e, allTypes));
      return importText(indent, allTypes, specifiers, `${PACKAGE}/${entry}`);
    });
  return { text: statements.join('\n').slice(indent.length) };
}

/** Rewrites one file; returns the problems met (each import it could not rewrite is left alone). */
function migrateFile(path, owners, entryOrder, dryRun) {
  const original = readFileSync(path, 'utf8');
  const source = ts.createSourceFile(path, original, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits = [];
  const problems = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    if (!statement.moduleSpecifier || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    if (statement.moduleSpecifier.text !== PACKAGE) continue;
    const start = statement.getStart(source);
    const { line } = source.getLineAndCharacterOfPosition(start);
    const where = `${relative(process.cwd(), path)}:${line + 1}`;
    if (ts.isExportDeclaration(statement)) {
      problems.push(`${where}: a re-export of ${PACKAGE}: rewrite it by hand`);
      continue;
    }
    const indent = /[ \t]*$/.exec(original.slice(0, start))[0];
    const result = rewriteImport(statement, owners, entryOrder, indent);
    if (result.problem) {
      problems.push(`${where}: ${result.problem}`);
      continue;
    }
    edits.push({ start, end: statement.getEnd(), text: result.text, where, indent });
  }
  if (edits.length === 0) return problems;
  let updated = original;
  for (const edit of [...edits].reverse()) {
    updated = updated.slice(0, edit.start) + edit.text + updated.slice(edit.end);
  }
  for (const edit of edits) {
    console.log(`${edit.where}${dryRun ? ' (dry run)' : ''}`);
    for (const line of (edit.indent + original.slice(edit.start, edit.end)).split('\n')) console.log(`  - ${line}`);
    for (const line of (edit.indent + edit.text).split('\n')) console.log(`  + ${line}`);
  }
  if (!dryRun) writeFileSync(path, updated);
  return problems;
}

function main(argv) {
  const dryRun = argv.includes('--dry-run');
  const files = argv.filter((a) => a !== '--dry-run');
  const unknownOption = files.find((f) => f.startsWith('-'));
  if (files.length === 0 || unknownOption) {
    console.error(
      `${unknownOption ? `unknown option ${unknownOption}\n` : ''}` +
        'usage: node scripts/migrate-shared-imports.mjs [--dry-run] <file.ts>…',
    );
    return 2;
  }
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    console.error(`no such file: ${missing.join(', ')}`);
    return 2;
  }
  const entries = entryPoints();
  const owners = exportsByName(entries);
  const entryOrder = entries.map((e) => e.name);
  const problems = files.flatMap((file) => migrateFile(file, owners, entryOrder, dryRun));
  for (const problem of problems) console.error(`not rewritten: ${problem}`);
  return problems.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
