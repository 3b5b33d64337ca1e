import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_DEFINITIONS } from '@order-mail/shared/contract';

// README's "Error answers" table is what clients read to know a code: each code of the catalogue
// must be there, with the status, wire name and description the services answer with.

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The rows of README's error table: `| \`ERR_…\` | status | \`error\` | description |`, cells trimmed. */
function documentedCodes(): Map<string, { status: string; error: string; description: string }> {
  const rows = new Map<string, { status: string; error: string; description: string }>();
  for (const line of README.split('\n')) {
    const cells = /^\|\s*`(ERR_[A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    const [status = '', error = '', description = ''] = cells[2].split('|').map((c) => c.trim());
    rows.set(cells[1], { status, error, description });
  }
  return rows;
}

describe("README's error table", () => {
  const documented = documentedCodes();

  it.each(ERROR_DEFINITIONS.map((d) => [d.code, d] as const))(
    'when the catalogue has %s, then README documents it with its status, wire name and description',
    (code, definition) => {
      expect(documented.get(code)).toEqual({
        status: definition.status === undefined ? '—' : String(definition.status),
        error: definition.error === undefined ? '—' : `\`${definition.error}\``,
        description: definition.description,
      });
    },
  );

  it('when README documents a code, then the catalogue has it (no stale rows)', () => {
    const known = new Set<string>(ERROR_DEFINITIONS.map((d) => d.code));

    expect([...documented.keys()].filter((code) => !known.has(code))).toEqual([]);
  });
});
